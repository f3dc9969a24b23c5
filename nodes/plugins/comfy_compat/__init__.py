"""ComfyUI compatibility modules for custom node packs: a directory of top-level modules, not a package to import.

`folder_paths`, `comfy`, `comfy_execution` and `server` in this directory are imported by plugin code under those
top-level names, served by `nodes.plugins.compat_import`. Do not import them as `nodes.plugins.comfy_compat.*`:
that would create second copies of the modules.
"""
