"""ControlNet nodes (spec §8.2, §8.3): load ControlNets, attach them to conditioning, and the Canny preprocessor.

The runtime is `runtime.control.controlnet` (imported when a node runs), so this module imports without torch.
Applying a ControlNet puts a `ControlNet` object into the `control` option of every conditioning entry; applying
another one chains it after the first, and the sampler sums their residuals.
"""

from __future__ import annotations

from nodes.inputs import model_files, resolve_file

STRENGTH = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01})
PERCENT = {"min": 0.0, "max": 1.0, "step": 0.001}


def _load(node: str, control_net_name: str, base_model=None):
    from runtime.control.controlnet import ControlNet, NotAControlNet, load_controlnet_weights
    from runtime.weights.files import ModelFileError

    path = resolve_file(node, "control_net_name", "controlnet", control_net_name)
    try:
        weights = load_controlnet_weights(path, base_model)
    except ModelFileError as error:
        from runtime.control.t2i_adapter import load_t2i_adapter

        try:  # ComfyUI loads T2I-Adapters through the same nodes
            adapter = load_t2i_adapter(path)
        except ModelFileError as adapter_error:
            raise ModelFileError(f"{node}: input 'control_net_name' ({control_net_name}): {adapter_error}") from error
        if adapter is None and isinstance(error, NotAControlNet):
            raise ModelFileError(
                f"{node}: input 'control_net_name' ({control_net_name}): neither a ControlNet nor a T2I-Adapter; "
                "expected a ControlNet ('control_model.zero_convs.0.0.weight' or "
                "'controlnet_cond_embedding.conv_in.weight') or a T2I-Adapter ('adapter.conv_in.weight' or "
                "'conv_in.weight' with 'body.0.block1.weight'), for SD1.x, SD2.x or SDXL") from error
        if adapter is None:
            raise ModelFileError(f"{node}: input 'control_net_name' ({control_net_name}): {error}") from error
        return adapter
    return ControlNet(weights)


class ControlNetLoader:
    """Load a ControlNet (SD1.x, SD2.x or SDXL; original `control_model.*` or diffusers layout)."""

    RETURN_TYPES = ("CONTROL_NET",)
    FUNCTION = "load_controlnet"
    CATEGORY = "loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"control_net_name": (model_files("controlnet"),)}}

    def load_controlnet(self, control_net_name):
        return (_load("ControlNetLoader", control_net_name),)


class DiffControlNetLoader:
    """Load a ControlNet; "diff" ControlNets store their difference to a base model, whose weights are added."""

    RETURN_TYPES = ("CONTROL_NET",)
    FUNCTION = "load_controlnet"
    CATEGORY = "loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "control_net_name": (model_files("controlnet"),)}}

    def load_controlnet(self, model, control_net_name):
        control = _load("DiffControlNetLoader", control_net_name, base_model=model)
        control.check_model(model.family, f"DiffControlNetLoader: input 'control_net_name' ({control_net_name})")
        return (control,)


def _check_fits(node: str, control, conditioning, input_name: str) -> None:
    """A ControlNet sees the text context: its width tells the model type before any sampling starts."""
    if control.weights.context_dim is None:  # T2I-Adapters never see the text
        return
    for cond, _ in conditioning:
        if cond.shape[-1] != control.weights.context_dim:
            raise ValueError(f"{node}: input 'control_net': the ControlNet {control.weights.path.name} is for "
                             f"{control.family} models ({control.weights.context_dim}-wide text context) but "
                             f"'{input_name}' is {cond.shape[-1]}-wide: wrong model type")


def _chainer(control_net, image, strength, percent, node: str):
    """previous ControlNet → the applied copy chained after it; one copy per previous, so positive and negative
    entries share it and batch together."""
    if not hasattr(image, "movedim") or image.ndim != 4 or not 1 <= image.shape[-1] <= 4:
        raise ValueError(f"{node}: input 'image' must be an IMAGE tensor [B, H, W, C], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    hint = image.movedim(-1, 1)[:, :3]
    made = {}

    def make(previous):
        if id(previous) not in made:
            made[id(previous)] = control_net.applied(hint, strength, percent, previous, node)
        return made[id(previous)]
    return make


def _attach(conditioning, make_control, extra: dict) -> list:
    """Copies of the entries with a ControlNet chained after each entry's current one."""
    return [[cond, {**options, "control": make_control(options.get("control")), **extra}]
            for cond, options in conditioning]


class ControlNetApply:
    """Attach a ControlNet with a hint image to a conditioning (and, at sampling, to the negative too)."""

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_controlnet"
    CATEGORY = "conditioning/controlnet"
    DEPRECATED = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",), "control_net": ("CONTROL_NET",),
                             "image": ("IMAGE",), "strength": STRENGTH}}

    def apply_controlnet(self, conditioning, control_net, image, strength):
        if strength == 0:
            return (conditioning,)
        _check_fits("ControlNetApply", control_net, conditioning, "conditioning")
        make = _chainer(control_net, image, strength, (0.0, 1.0), "ControlNetApply")
        return (_attach(conditioning, make, {"control_apply_to_uncond": True}),)


class ControlNetApplyAdvanced:
    """Attach a ControlNet to positive and negative with a strength and a start/end percent of sampling."""

    RETURN_TYPES = ("CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("positive", "negative")
    FUNCTION = "apply_controlnet"
    CATEGORY = "conditioning/controlnet"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "control_net": ("CONTROL_NET",), "image": ("IMAGE",), "strength": STRENGTH,
                             "start_percent": ("FLOAT", {"default": 0.0, **PERCENT}),
                             "end_percent": ("FLOAT", {"default": 1.0, **PERCENT})},
                "optional": {"vae": ("VAE",)}}

    def apply_controlnet(self, positive, negative, control_net, image, strength, start_percent, end_percent,
                         vae=None):
        # vae is only needed by ControlNet types that take latent hints, none of which diffloom loads
        if strength == 0:
            return positive, negative
        node = "ControlNetApplyAdvanced"
        _check_fits(node, control_net, positive, "positive")
        _check_fits(node, control_net, negative, "negative")
        make = _chainer(control_net, image, strength, (start_percent, end_percent), node)
        return (_attach(positive, make, {"control_apply_to_uncond": False}),
                _attach(negative, make, {"control_apply_to_uncond": False}))


class Canny:
    """Canny edges of an image (white edges on black), the usual hint of canny ControlNets."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_canny"
    OBJECT_INFO_V3 = True

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "detect_edge"
    CATEGORY = "image/preprocessors"

    @classmethod
    def INPUT_TYPES(cls):
        threshold = {"min": 0.01, "max": 0.99, "step": 0.01}
        return {"required": {"image": ("IMAGE", {}),
                             "low_threshold": ("FLOAT", {"default": 0.4, **threshold}),
                             "high_threshold": ("FLOAT", {"default": 0.8, **threshold})}}

    def detect_edge(self, image, low_threshold, high_threshold):
        from runtime.imaging.canny import canny

        if image.ndim != 4:
            raise ValueError(f"Canny: input 'image' must be an IMAGE [B, H, W, C], got shape {tuple(image.shape)}")
        if low_threshold > high_threshold:
            raise ValueError(f"Canny: low_threshold {low_threshold} is above high_threshold {high_threshold}")
        edges = canny(image.movedim(-1, 1), low_threshold, high_threshold)
        return (edges.repeat(1, 3, 1, 1).movedim(1, -1),)


NODE_CLASS_MAPPINGS = {
    "ControlNetLoader": ControlNetLoader,
    "DiffControlNetLoader": DiffControlNetLoader,
    "ControlNetApply": ControlNetApply,
    "ControlNetApplyAdvanced": ControlNetApplyAdvanced,
    "Canny": Canny,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "ControlNetLoader": "Load ControlNet Model",
    "DiffControlNetLoader": "Load ControlNet Model (diff)",
    "ControlNetApply": "Apply ControlNet (OLD)",
    "ControlNetApplyAdvanced": "Apply ControlNet",
}
