"""ComfyUI's node typing helpers: the `IO` type names, `ComfyNodeABC` and the `InputTypeDict` shapes."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import Any, Literal, TypedDict

from nodes.plugins.compat_import import missing_symbol

__all__ = ["IO", "ComfyNodeABC", "CheckLazyMixin", "InputTypeDict", "InputTypeOptions", "HiddenInputTypeDict"]


class IO(str, enum.Enum):
    """Socket type names. Comparing with `!=` treats `*` as anything and comma lists as sets that must overlap,
    which is how the executor's type check lets these values match wider or narrower types."""

    ANY = "*"
    NUMBER = "FLOAT,INT"
    PRIMITIVE = "STRING,FLOAT,INT,BOOLEAN"
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    COMBO = "COMBO"
    IMAGE = "IMAGE"
    MASK = "MASK"
    LATENT = "LATENT"
    CONDITIONING = "CONDITIONING"
    MODEL = "MODEL"
    CLIP = "CLIP"
    VAE = "VAE"
    CONTROL_NET = "CONTROL_NET"
    SAMPLER = "SAMPLER"
    SIGMAS = "SIGMAS"
    NOISE = "NOISE"
    GUIDER = "GUIDER"
    CLIP_VISION = "CLIP_VISION"
    CLIP_VISION_OUTPUT = "CLIP_VISION_OUTPUT"
    STYLE_MODEL = "STYLE_MODEL"
    GLIGEN = "GLIGEN"
    UPSCALE_MODEL = "UPSCALE_MODEL"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    WEBCAM = "WEBCAM"
    POINT = "POINT"
    FACE_ANALYSIS = "FACE_ANALYSIS"
    BBOX = "BBOX"
    SEGS = "SEGS"
    LORA_MODEL = "LORA_MODEL"
    LOSS_MAP = "LOSS_MAP"
    PHOTOMAKER = "PHOTOMAKER"
    TIMESTEPS_RANGE = "TIMESTEPS_RANGE"
    LATENT_OPERATION = "LATENT_OPERATION"
    FLOW_CONTROL = "FLOW_CONTROL"
    ACCUMULATION = "ACCUMULATION"
    SVG = "SVG"
    HOOKS = "HOOKS"
    HOOK_KEYFRAMES = "HOOK_KEYFRAMES"
    MESH = "MESH"
    VOXEL = "VOXEL"
    LOAD_3D = "LOAD_3D"
    LOAD_3D_ANIMATION = "LOAD_3D_ANIMATION"
    LOAD3D_CAMERA = "LOAD3D_CAMERA"
    AUDIO_ENCODER = "AUDIO_ENCODER"
    AUDIO_ENCODER_OUTPUT = "AUDIO_ENCODER_OUTPUT"
    MODEL_PATCH = "MODEL_PATCH"
    LATENT_UPSCALE_MODEL = "LATENT_UPSCALE_MODEL"

    def __str__(self) -> str:
        return self.value

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self.value, str(other)) if isinstance(other, str) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, str):
            return True
        other = str(other)
        if self.value == "*" or other == "*":
            return False
        mine, theirs = set(self.value.split(",")), set(other.split(","))
        return not (mine & theirs)


class InputTypeOptions(TypedDict, total=False):
    default: Any
    min: float
    max: float
    step: float
    round: float | Literal[False]
    display: str
    multiline: bool
    placeholder: str
    dynamicPrompts: bool
    forceInput: bool
    lazy: bool
    rawLink: bool
    tooltip: str
    image_upload: bool
    control_after_generate: bool
    label_on: str
    label_off: str


class HiddenInputTypeDict(TypedDict, total=False):
    unique_id: Literal["UNIQUE_ID"]
    prompt: Literal["PROMPT"]
    extra_pnginfo: Literal["EXTRA_PNGINFO"]
    dynprompt: Literal["DYNPROMPT"]


class InputTypeDict(TypedDict, total=False):
    required: dict[str, tuple]
    optional: dict[str, tuple]
    hidden: HiddenInputTypeDict


class ComfyNodeABC(ABC):
    """A base class documenting the V1 node protocol (spec §5.1); subclasses implement INPUT_TYPES."""

    DESCRIPTION: str = ""
    CATEGORY: str = "sd"
    RETURN_TYPES: tuple = ()
    FUNCTION: str

    @classmethod
    @abstractmethod
    def INPUT_TYPES(cls) -> InputTypeDict:  # noqa: N802 - the protocol's name
        ...


class CheckLazyMixin:
    """Default `check_lazy_status`: ask for every lazy input that has not been evaluated yet."""

    def check_lazy_status(self, **kwargs) -> list[str]:
        return [name for name, value in kwargs.items() if value is None]


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)
