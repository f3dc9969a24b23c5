"""ComfyUI's `comfy` package as diffloom provides it to custom nodes: `utils`, `model_management`, `comfy_types`,
`samplers` and `sample`.

Any other `comfy.*` module raises ModuleNotFoundError naming it (see docs/plugins.md).
"""
