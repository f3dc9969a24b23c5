"""V3 declarations: `ComfyNode`, `Schema`, input/output types, `Hidden`, `NodeOutput`, `ComfyExtension`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Hidden(str, Enum):
    """Hidden inputs a V3 node may ask for; `cls.hidden.<name>` holds their values during `execute`."""

    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"


class UploadType(str, Enum):
    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


_COMMON = ("display_name", "tooltip", "lazy", "default", "socketless", "force_input", "raw_link")


class _Input:
    """One input: its id, V1 type and options (None values are left out, as ComfyUI prunes them)."""

    io_type = "*"

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, extra_dict: dict | None = None, **options: Any):
        self.id, self.optional = id, optional
        self.options = {k: v for k, v in dict(options, display_name=display_name, tooltip=tooltip, lazy=lazy,
                                                  **(extra_dict or {})).items() if v is not None}

    def v1(self) -> tuple:
        return (self.io_type, self.options)


class _Output:
    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None,
                 is_output_list: bool = False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list


def _type(name: str, io_type: str, input_base: type = _Input) -> type:
    """A V3 type class with nested `Input` and `Output` classes, e.g. `io.Image.Input("image")`."""
    inputs = type("Input", (input_base,), {"io_type": io_type})
    outputs = type("Output", (_Output,), {"io_type": io_type})
    return type(name, (), {"io_type": io_type, "Input": inputs, "Output": outputs})


class _ComboInput(_Input):
    def __init__(self, id: str, options: list | type[Enum] | None = None, default: Any = None,
                 upload: UploadType | None = None, **kwargs: Any):
        if isinstance(options, type) and issubclass(options, Enum):
            options = [member.value for member in options]
        if isinstance(default, Enum):
            default = default.value
        if upload is not None:
            kwargs[upload.value] = True
        super().__init__(id, default=default, **kwargs)
        self.choices = list(options or [])

    def v1(self) -> tuple:
        return (self.choices, self.options)


Boolean = _type("Boolean", "BOOLEAN")
Int = _type("Int", "INT")
Float = _type("Float", "FLOAT")
String = _type("String", "STRING")
Combo = _type("Combo", "COMBO", _ComboInput)
AnyType = _type("AnyType", "*")
_SOCKETS = {
    "Image": "IMAGE", "Mask": "MASK", "Latent": "LATENT", "Conditioning": "CONDITIONING", "Sampler": "SAMPLER",
    "Sigmas": "SIGMAS", "Noise": "NOISE", "Guider": "GUIDER", "Clip": "CLIP", "ControlNet": "CONTROL_NET",
    "Vae": "VAE", "Model": "MODEL", "ClipVision": "CLIP_VISION", "ClipVisionOutput": "CLIP_VISION_OUTPUT",
    "StyleModel": "STYLE_MODEL", "Gligen": "GLIGEN", "UpscaleModel": "UPSCALE_MODEL", "Audio": "AUDIO",
    "Video": "VIDEO", "LoraModel": "LORA_MODEL", "Hooks": "HOOKS", "TimestepsRange": "TIMESTEPS_RANGE",
    "LatentOperation": "LATENT_OPERATION", "Photomaker": "PHOTOMAKER", "Point": "POINT", "BBOX": "BBOX",
    "SEGS": "SEGS", "SVG": "SVG", "Mesh": "MESH", "Voxel": "VOXEL",
}
globals().update({name: _type(name, io_type) for name, io_type in _SOCKETS.items()})


def Custom(io_type: str) -> type:
    """A type of the pack's own, named as V1 names it (`io.Custom("MY_TYPE").Input("x")`)."""
    return _type(io_type, io_type)


@dataclass
class Schema:
    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    hidden: list = field(default_factory=list)
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False


class NodeOutput:
    """What `execute` returns: the output values, and optionally `ui`, `expand` or `block_execution`."""

    def __init__(self, *values: Any, ui: Any = None, expand: dict | None = None, block_execution: str | None = None):
        self.values, self.ui, self.expand, self.block_execution = values, ui, expand, block_execution


class HiddenHolder:
    """`cls.hidden` during `execute`: the hidden inputs the schema asked for (None where not given)."""

    def __init__(self, values: dict[str, Any]):
        for member in Hidden:
            setattr(self, member.name, values.get(member.name))


class ComfyNode:
    """Base of V3 nodes: implement the classmethods `define_schema()` and `execute(**inputs)`."""

    hidden: HiddenHolder | None = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError(f"{cls.__name__} must define the classmethod define_schema()")

    @classmethod
    def execute(cls, **inputs: Any) -> NodeOutput:
        raise NotImplementedError(f"{cls.__name__} must define the classmethod execute()")


class ComfyExtension:
    """What a V3 pack's `comfy_entrypoint()` returns; `get_node_list()` names its node classes."""

    async def on_load(self) -> None:
        return None

    async def get_node_list(self) -> list[type[ComfyNode]]:
        return []
