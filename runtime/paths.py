"""Where files live: model folders (by folder key), input/output/temp/user directories, extra_model_paths.yaml.

One `Paths` object is made at start-up from the command-line flags and handed to `runtime.configure`; nodes and the
plugin compatibility layer read it as `runtime.settings.current().paths`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

WEIGHT_EXTENSIONS = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})

# folder key -> (sub-folders of models/ in search order, extensions); the table of spec §9.1.
_MODEL_FOLDERS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "checkpoints": (("checkpoints",), WEIGHT_EXTENSIONS),
    "configs": (("configs",), frozenset({".yaml"})),
    "loras": (("loras",), WEIGHT_EXTENSIONS),
    "vae": (("vae",), WEIGHT_EXTENSIONS),
    "text_encoders": (("text_encoders", "clip"), WEIGHT_EXTENSIONS),
    "diffusion_models": (("unet", "diffusion_models"), WEIGHT_EXTENSIONS),
    "clip_vision": (("clip_vision",), WEIGHT_EXTENSIONS),
    "style_models": (("style_models",), WEIGHT_EXTENSIONS),
    "embeddings": (("embeddings",), WEIGHT_EXTENSIONS),
    "diffusers": (("diffusers",), frozenset({"folder"})),
    "vae_approx": (("vae_approx",), WEIGHT_EXTENSIONS),
    "controlnet": (("controlnet", "t2i_adapter"), WEIGHT_EXTENSIONS),
    "gligen": (("gligen",), WEIGHT_EXTENSIONS),
    "upscale_models": (("upscale_models",), WEIGHT_EXTENSIONS),
    "latent_upscale_models": (("latent_upscale_models",), WEIGHT_EXTENSIONS),
    "hypernetworks": (("hypernetworks",), WEIGHT_EXTENSIONS),
    "photomaker": (("photomaker",), WEIGHT_EXTENSIONS),
    "classifiers": (("classifiers",), frozenset({""})),
    "model_patches": (("model_patches",), WEIGHT_EXTENSIONS),
    "audio_encoders": (("audio_encoders",), WEIGHT_EXTENSIONS),
}
LEGACY_KEYS = {"clip": "text_encoders", "unet": "diffusion_models"}


class ModelFileNotFound(FileNotFoundError):
    """A model file named by a workflow is not in any path of its folder."""


@dataclass
class Paths:
    base_dir: Path
    models_dir: Path
    input_dir: Path
    output_dir: Path
    temp_dir: Path
    user_dir: Path
    folders: dict[str, tuple[list[Path], frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def create(cls, base_dir: str | os.PathLike, *, input_dir=None, output_dir=None, temp_dir=None,
               user_dir=None, extra_model_paths: list[str] | None = None) -> "Paths":
        base = Path(base_dir).resolve()
        models = base / "models"
        paths = cls(base_dir=base, models_dir=models,
                    input_dir=Path(input_dir or base / "input").resolve(),
                    output_dir=Path(output_dir or base / "output").resolve(),
                    temp_dir=Path(temp_dir or base / "temp").resolve(),
                    user_dir=Path(user_dir or base / "user").resolve())
        for key, (subdirs, exts) in _MODEL_FOLDERS.items():
            paths.folders[key] = ([models / s for s in subdirs], exts)
        paths.folders["custom_nodes"] = ([base / "custom_nodes"], frozenset())
        for key, sub in (("checkpoints", "checkpoints"), ("text_encoders", "clip"), ("vae", "vae"),
                         ("diffusion_models", "diffusion_models"), ("loras", "loras")):
            paths.folders[key][0].append(paths.output_dir / sub)
        for config in extra_model_paths or []:
            paths.load_extra_model_paths(config)
        return paths

    def add_model_folder_path(self, key: str, path: str | os.PathLike, is_default: bool = False) -> None:
        key = LEGACY_KEYS.get(key, key)
        dirs, exts = self.folders.setdefault(key, ([], WEIGHT_EXTENSIONS))
        path = Path(path)
        if path in dirs:
            dirs.remove(path)
        dirs.insert(0, path) if is_default else dirs.append(path)

    def load_extra_model_paths(self, yaml_file: str | os.PathLike) -> None:
        """Read an extra_model_paths.yaml (spec §9.2) and add its folders."""
        import yaml

        yaml_path = Path(yaml_file).resolve()
        data = yaml.safe_load(yaml_path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{yaml_path}: expected a mapping of section names to folder mappings")
        for section, entries in data.items():
            if not isinstance(entries, dict):
                raise ValueError(f"{yaml_path}: section {section!r} must be a mapping")
            base = entries.get("base_path")
            base_path = Path(os.path.expandvars(os.path.expanduser(base))) if base else None
            if base_path is not None and not base_path.is_absolute():
                base_path = yaml_path.parent / base_path
            is_default = bool(entries.get("is_default", False))
            for key, value in entries.items():
                if key in ("base_path", "is_default") or value is None:
                    continue
                for line in str(value).splitlines():
                    line = line.strip()
                    if line:
                        target = (base_path or yaml_path.parent) / os.path.expandvars(os.path.expanduser(line))
                        self.add_model_folder_path(key, Path(os.path.normpath(target)), is_default)

    def folder_dirs(self, key: str) -> list[Path]:
        return self.folders[LEGACY_KEYS.get(key, key)][0]

    def get_filename_list(self, key: str) -> list[str]:
        """Relative names of the files in every path of a model folder, sorted (what combos list)."""
        key = LEGACY_KEYS.get(key, key)
        if key not in self.folders:
            raise KeyError(f"unknown model folder {key!r}")
        dirs, exts = self.folders[key]
        found: set[str] = set()
        for root in dirs:
            if not root.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
                dirnames[:] = [d for d in dirnames if d != ".git"]
                if "folder" in exts and "model_index.json" in filenames:
                    found.add(os.path.relpath(dirpath, root))
                for name in filenames:
                    if not exts or os.path.splitext(name)[1].lower() in exts:
                        found.add(os.path.relpath(os.path.join(dirpath, name), root))
        return sorted(found)

    def get_full_path(self, key: str, name: str) -> Path | None:
        """The first path of the folder that holds `name`, or None. Names leaving the folder are refused."""
        relative = os.path.normpath(name)
        if os.path.isabs(relative) or relative.startswith(".."):
            return None
        for root in self.folder_dirs(key):
            candidate = root / relative
            if candidate.exists():
                return candidate
        return None

    def get_full_path_or_raise(self, key: str, name: str) -> Path:
        path = self.get_full_path(key, name)
        if path is None:
            searched = ", ".join(str(d) for d in self.folder_dirs(key))
            raise ModelFileNotFound(f"Model in folder '{key}' with filename '{name}' not found (searched {searched})")
        return path

    def directory_for(self, kind: str) -> Path:
        """The input/output/temp directory named by a /view or upload `type`."""
        return {"input": self.input_dir, "output": self.output_dir, "temp": self.temp_dir}[kind]
