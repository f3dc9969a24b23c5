"""ComfyUI's `folder_paths` for custom nodes, backed by the folders `runtime.configure` was given
(`runtime.settings.current().paths`).

Module attributes (`models_dir`, `folder_names_and_paths`, the directories) are computed on access, so they follow
the paths the server was configured with; `folder_names_and_paths` is a live view plugins may add folders to.
"""

from __future__ import annotations

from collections.abc import MutableMapping, MutableSequence, MutableSet
from pathlib import Path

from runtime.settings import current as _current_settings
from runtime.imaging.files import annotated_path, annotated_path_exists, save_target, substitute_variables
from runtime.paths import LEGACY_KEYS, WEIGHT_EXTENSIONS
from nodes.plugins.compat_import import missing_symbol

__all__ = ["add_model_folder_path", "exists_annotated_filepath", "folder_names_and_paths", "get_annotated_filepath",
           "get_filename_list", "get_folder_paths", "get_full_path", "get_full_path_or_raise",
           "get_input_directory", "get_output_directory", "get_save_image_path", "get_temp_directory",
           "get_user_directory", "map_legacy", "models_dir", "supported_pt_extensions", "base_path",
           "input_directory", "output_directory", "temp_directory", "user_directory"]

supported_pt_extensions = set(WEIGHT_EXTENSIONS)
ANNOTATION_SUFFIXES = (" [input]", " [output]", " [temp]")


def _paths():
    return _current_settings().paths


def map_legacy(folder_name: str) -> str:
    return LEGACY_KEYS.get(folder_name, folder_name)


class _PathList(MutableSequence):
    """The path list of one folder key, as strings; writes go to the `Path` list in runtime.paths."""

    def __init__(self, dirs: list[Path]):
        self._dirs = dirs

    def __getitem__(self, index):
        return [str(p) for p in self._dirs[index]] if isinstance(index, slice) else str(self._dirs[index])

    def __setitem__(self, index, value):
        self._dirs[index] = [Path(v) for v in value] if isinstance(index, slice) else Path(value)

    def __delitem__(self, index):
        del self._dirs[index]

    def __len__(self):
        return len(self._dirs)

    def insert(self, index, value):
        self._dirs.insert(index, Path(value))

    def __eq__(self, other):
        return list(self) == list(other)

    def __repr__(self):
        return repr(list(self))


class _ExtensionSet(MutableSet):
    """The extension set of one folder key; runtime.paths stores a frozenset, so edits replace it."""

    def __init__(self, key: str):
        self._key = key

    def _current(self) -> frozenset[str]:
        return _paths().folders[self._key][1]

    def _replace(self, exts: frozenset[str]) -> None:
        folders = _paths().folders
        folders[self._key] = (folders[self._key][0], exts)

    def __contains__(self, ext):
        return ext in self._current()

    def __iter__(self):
        return iter(self._current())

    def __len__(self):
        return len(self._current())

    def add(self, ext):
        self._replace(self._current() | {ext})

    def discard(self, ext):
        self._replace(self._current() - {ext})

    def __repr__(self):
        return repr(set(self._current()))


class _FolderTable(MutableMapping):
    """`folder_names_and_paths`: folder key -> ([paths], {extensions}), live on the configured folders."""

    def __getitem__(self, key):
        key = map_legacy(key)
        dirs, _ = _paths().folders[key]
        return _PathList(dirs), _ExtensionSet(key)

    def __setitem__(self, key, value):
        dirs, exts = value
        _paths().folders[map_legacy(key)] = ([Path(d) for d in dirs], frozenset(exts))

    def __delitem__(self, key):
        del _paths().folders[map_legacy(key)]

    def __iter__(self):
        return iter(list(_paths().folders))

    def __len__(self):
        return len(_paths().folders)


folder_names_and_paths = _FolderTable()

_DYNAMIC = {
    "models_dir": lambda p: str(p.models_dir),
    "base_path": lambda p: str(p.base_dir),
    "input_directory": lambda p: str(p.input_dir),
    "output_directory": lambda p: str(p.output_dir),
    "temp_directory": lambda p: str(p.temp_dir),
    "user_directory": lambda p: str(p.user_dir),
}


def __getattr__(name: str):
    if name in _DYNAMIC:
        return _DYNAMIC[name](_paths())
    raise missing_symbol(__name__, name, __all__)


def get_input_directory() -> str:
    return str(_paths().input_dir)


def get_output_directory() -> str:
    return str(_paths().output_dir)


def get_temp_directory() -> str:
    return str(_paths().temp_dir)


def get_user_directory() -> str:
    return str(_paths().user_dir)


def get_folder_paths(folder_name: str) -> list[str]:
    return [str(p) for p in _paths().folder_dirs(folder_name)]


def add_model_folder_path(folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
    """Add a search path to a folder key; `is_default` puts it first. A new key lists files of every extension."""
    paths = _paths()
    paths.folders.setdefault(map_legacy(folder_name), ([], frozenset()))
    paths.add_model_folder_path(folder_name, full_folder_path, is_default)


def get_filename_list(folder_name: str) -> list[str]:
    return _paths().get_filename_list(folder_name)


def get_full_path(folder_name: str, filename: str) -> str | None:
    path = _paths().get_full_path(folder_name, filename)
    return None if path is None else str(path)


def get_full_path_or_raise(folder_name: str, filename: str) -> str:
    return str(_paths().get_full_path_or_raise(folder_name, filename))


def get_annotated_filepath(name: str, default_dir: str | None = None) -> str:
    """`"x.png [output]"` -> `<output>/x.png` (also `[input]`, `[temp]`; no annotation: `default_dir` or input).

    Raises ValueError for names that leave their directory.
    """
    if default_dir is None or name.endswith(ANNOTATION_SUFFIXES):
        return str(annotated_path(name))
    base = Path(default_dir).resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"file name {name!r} points outside {base}")
    return str(path)


def exists_annotated_filepath(name: str) -> bool:
    return annotated_path_exists(name)


def get_save_image_path(filename_prefix: str, output_dir: str, image_width: int = 0, image_height: int = 0):
    """Where the next file of `filename_prefix` goes: `(folder, filename, counter, subfolder, filename_prefix)`.

    The counter is one more than the highest `<filename>_<counter>_` already in the folder (1 when none).
    """
    target = save_target(filename_prefix, output_dir, image_width, image_height)
    return (str(target.folder), target.filename, target.counter, target.subfolder,
            substitute_variables(filename_prefix, image_width, image_height))
