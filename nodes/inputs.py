"""What node functions share about their inputs: combo declarations, the files of a model folder, resolving and
loading a chosen file with errors that name the node and the input, and checks of tensor inputs.

Torch-free at import, like every node module.
"""

from __future__ import annotations

from runtime.settings import current


def combo(options) -> tuple:
    """A new-style combo declaration, as ComfyUI's V3 nodes report theirs in /object_info."""
    return ("COMBO", {"multiselect": False, "options": list(options)})


def model_files(key: str) -> list[str]:
    """The files of model folder `key` (what a file combo lists)."""
    return current().paths.get_filename_list(key)


def embedding_dirs():
    """The folders `embedding:<name>` words in prompts are looked up in."""
    return current().paths.folder_dirs("embeddings")


def resolve_file(node: str, input_name: str, key: str, name: str):
    """The full path of a combo choice, or an error naming the node, the input and the file."""
    try:
        return current().paths.get_full_path_or_raise(key, name)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{node}: input '{input_name}': {error}") from error


def load_named(node: str, input_name: str, name: str, loader):
    """Run a loader, prefixing its errors with the node and input (the file is named by the loader)."""
    from runtime.weights.files import ModelFileError

    try:
        return loader()
    except ModelFileError as error:
        raise ModelFileError(f"{node}: input '{input_name}' ({name}): {error}") from error


def load_file(node: str, input_name: str, key: str, name: str, loader):
    """Resolve a combo choice in folder `key` and run loader(path), errors named as by `resolve_file` and
    `load_named`."""
    path = resolve_file(node, input_name, key, name)
    return load_named(node, input_name, name, lambda: loader(path))


def check_image(node: str, name: str, image) -> None:
    if image.dim() != 4:
        raise ValueError(f"{node}: input '{name}' must be an IMAGE [B,H,W,C], got shape {tuple(image.shape)}")
