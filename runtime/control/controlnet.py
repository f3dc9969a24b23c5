"""ControlNet (spec §9.5): load original (`control_model.*`) and diffusers files into a diffusers `ControlNetModel`,
and compute its residuals for the UNet while sampling.

Both layouts go through one path: diffusers keys are renamed to the original layout, the config is derived from
the tensor shapes by the model-family rules (`runtime.families.match`), and the weights are handed to a
meta-device `ControlNetModel` through the UNet key map plus the ControlNet-only names below. A `ControlNet` is the
CONTROL_NET value: the loaded network plus, once applied, a hint image, strength, percent range and the previous
ControlNet in its chain; `runtime.sampling.guidance` calls `get_control` once per batched UNet call.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import torch

from runtime import families
from runtime.devices import DeviceResident, compute_device, weight_dtype
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.meta import assign_weights, on_meta
from runtime.weights.shapes import shapes_of

# config keys a ControlNetModel shares with the UNet it controls
SHARED_CONFIG = ("in_channels", "flip_sin_to_cos", "freq_shift", "down_block_types", "mid_block_type",
                 "block_out_channels", "layers_per_block", "norm_num_groups", "cross_attention_dim",
                 "transformer_layers_per_block", "attention_head_dim", "use_linear_projection", "addition_embed_type",
                 "addition_time_embed_dim", "projection_class_embeddings_input_dim")


def _hint_convs(keys) -> list[int]:
    return sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"input_hint_block\.(\d+)\.weight", k))})


def control_key_map(diffusers_keys) -> dict[str, str]:
    """Original-layout name → diffusers name for the ControlNet-only tensors (zero convs and the hint encoder)."""
    keys = list(diffusers_keys)
    mapping = {}
    blocks = sorted({int(m.group(1)) for k in keys
                     if (m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.", k))})
    # the original hint encoder is one Sequential with a SiLU between convs: conv_in, blocks…, conv_out at 0, 2, 4…
    hint = {"conv_in": 0, **{f"blocks.{b}": 2 * (b + 1) for b in blocks}, "conv_out": 2 * (len(blocks) + 1)}
    for key in keys:
        name, _, param = key.rpartition(".")
        if m := re.fullmatch(r"controlnet_down_blocks\.(\d+)", name):
            mapping[f"zero_convs.{m.group(1)}.0.{param}"] = key
        elif name == "controlnet_mid_block":
            mapping[f"middle_block_out.0.{param}"] = key
        elif name.startswith("controlnet_cond_embedding."):
            mapping[f"input_hint_block.{hint[name.removeprefix('controlnet_cond_embedding.')]}.{param}"] = key
    return mapping


def controlnet_key_map(unet_config: dict, diffusers_keys) -> dict[str, str]:
    """Original-layout name → diffusers `ControlNetModel` name for every tensor of a ControlNet."""
    from runtime.networks.unet_keys import unet_key_map

    keys = list(diffusers_keys)
    control = control_key_map(keys)
    shared = set(control.values())
    return {**unet_key_map(unet_config, [k for k in keys if k not in shared]), **control}


def diffusers_to_original(state_dict: dict) -> dict:
    """A diffusers-layout ControlNet state dict renamed to the original layout."""
    from runtime.networks.unet_keys import diffusers_unet_to_original

    control = {diffusers: original for original, diffusers in control_key_map(state_dict).items()}
    rest = diffusers_unet_to_original({k: v for k, v in state_dict.items() if k not in control})
    return {**rest, **{control[k]: v for k, v in state_dict.items() if k in control}}


def controlnet_config(shapes: dict) -> tuple[dict, dict, str]:
    """(ControlNetModel config, the matching UNet config, family) from original-layout shapes."""
    # the detector reads the UNet's output channels from `out.2`, which a ControlNet lacks: it equals the input's
    with_out = {**shapes, "out.2.weight": (shapes["input_blocks.0.0.weight"][1],)}
    family, unet_config = families.match(with_out, "")
    config = {k: unet_config[k] for k in SHARED_CONFIG if k in unet_config}
    convs = _hint_convs(shapes)
    blocks = convs[1:-1]
    config["conditioning_channels"] = shapes[f"input_hint_block.{convs[0]}.weight"][1]
    config["conditioning_embedding_out_channels"] = (
        [shapes[f"input_hint_block.{convs[0]}.weight"][0]]
        + [shapes[f"input_hint_block.{b}.weight"][0] for b in blocks[1::2]])
    return config, unet_config, family.name


class NotAControlNet(ModelFileError):
    """The file has none of the keys of a ControlNet layout (it may still be a T2I-Adapter)."""


class ControlNetWeights(DeviceResident):
    """A loaded ControlNet network, its model family and the file it came from."""

    def __init__(self, network, family: str, path: Path, global_average_pooling: bool = False):
        self.network = network
        self.family = family
        self.path = path
        self.global_average_pooling = global_average_pooling

    def _networks(self):
        return [self.network]

    @property
    def context_dim(self) -> int:
        return self.network.config.cross_attention_dim


def _original_layout(state_dict: dict, path: Path) -> dict:
    if "controlnet_cond_embedding.conv_in.weight" in state_dict:
        return diffusers_to_original(state_dict)
    if "control_model.zero_convs.0.0.weight" in state_dict:
        return {k.removeprefix("control_model."): v for k, v in state_dict.items() if k.startswith("control_model.")}
    if "zero_convs.0.0.weight" in state_dict:
        return dict(state_dict)
    raise NotAControlNet(f"{path}: not a ControlNet (no 'control_model.zero_convs.0.0.weight' or "
                         "'controlnet_cond_embedding.conv_in.weight'); ControlNets of non-SD families are not "
                         "supported")


def _add_base_weights(original: dict, base_model, path: Path) -> dict:
    """A "diff" ControlNet stores its difference to the base UNet: add the base weights back."""
    from runtime.networks.unet_keys import unet_key_map
    from runtime.weights.patches import restore_weights

    unet = base_model.unet
    restore_weights(unet)  # the base weights, not a LoRA left in place by the last sampling run
    state = unet.state_dict()
    base = unet_key_map(dict(unet.config), state)
    out = {}
    for key, value in original.items():
        if key in base:
            weight = state[base[key]]
            if weight.shape != value.shape:
                raise ModelFileError(f"{path}: the diff ControlNet's {key} has shape {tuple(value.shape)} but the "
                                     f"{base_model.family} MODEL's has {tuple(weight.shape)}: another model type")
            value = value.float() + weight.float().cpu()
        out[key] = value
    return out


def load_controlnet_weights(path: str | Path, base_model=None) -> ControlNetWeights:
    """The ControlNet in `path` (original or diffusers layout); `base_model` for diff ControlNets."""
    path = Path(path)
    state = load_state_dict(path)
    if "lora_controlnet" in state:
        return ControlLoraWeights(state, path)
    return _build(_original_layout(state, path), path, base_model)


def _build(original: dict, path: Path, base_model=None) -> ControlNetWeights:
    """A diffusers ControlNetModel holding `original` (original-layout keys), its family read from the shapes."""
    from diffusers import ControlNetModel

    if "difference" in original:
        if base_model is None:
            raise ModelFileError(f"{path}: a diff ControlNet (it has a 'difference' key): load it with "
                                 "DiffControlNetLoader, which adds the MODEL's weights")
        original = _add_base_weights({k: v for k, v in original.items() if k != "difference"}, base_model, path)
    try:
        config, unet_config, family = controlnet_config(shapes_of(original))
    except (families.UnknownModelError, KeyError, IndexError, StopIteration) as error:
        raise ModelFileError(f"{path}: not a Stable Diffusion ControlNet ({error!r})") from error
    network = on_meta(lambda: ControlNetModel(**config))
    mapping = controlnet_key_map(unet_config, network.state_dict().keys())
    network = assign_weights(network, {mapping.get(k, k): v for k, v in original.items()},
                             dtype=weight_dtype(compute_device(), "unet"), what=f"{path} (ControlNet)")
    pooling = path.stem.endswith(("_shuffle", "_shuffle_fp16"))
    return ControlNetWeights(network, family, path, pooling)


class ControlLoraWeights(ControlNetWeights):
    """A Control-LoRA (Stability's `control-lora-*`): a ControlNet stored as low-rank differences to the model it runs
    with (`<layer>.up` / `<layer>.down`) plus the layers of its own (hint encoder, zero convolutions) in full. The
    network is built from the sampling MODEL's UNet at `pre_run`, once per base model."""

    def __init__(self, state: dict, path: Path):
        super().__init__(None, "any", path)
        self.lora = {k: v for k, v in state.items() if k != "lora_controlnet"}
        self._built_for: int | None = None

    def _networks(self):
        return [self.network] if self.network is not None else []

    @property
    def context_dim(self) -> int | None:
        return self.network.config.cross_attention_dim if self.network is not None else None  # known once built

    def build_for(self, base_model) -> None:
        if self._built_for == id(base_model.unet):
            return
        built = _build(self._composed(base_model), self.path)
        self.network, self.family, self._built_for = built.network, built.family, id(base_model.unet)

    def _composed(self, base_model) -> dict:
        """The base UNet's encoder weights, replaced by the file's full layers and moved by its up·down products."""
        from runtime.networks.unet_keys import unet_key_map
        from runtime.weights.patches import restore_weights

        unet = base_model.unet
        restore_weights(unet)  # the base weights, not a LoRA left in place by the last sampling run
        weights = unet.state_dict()
        composed = {key: weights[name].float().cpu() for key, name in unet_key_map(dict(unet.config), weights).items()
                    if not key.startswith(("output_blocks.", "out."))}
        lora = self.lora
        for key, value in lora.items():
            if not key.endswith((".up", ".down")):
                composed[key] = value.float()
        for key in [k for k in lora if k.endswith(".up")]:
            layer = key.removesuffix(".up")
            down, target = lora.get(layer + ".down"), layer + ".weight"
            if down is None or target not in composed:
                raise ModelFileError(f"{self.path}: the Control-LoRA's {layer} has no "
                                     f"{'.down' if down is None else 'matching layer in the MODEL'}")
            base = composed[target]
            delta = lora[key].float().flatten(1) @ down.float().flatten(1)
            if delta.numel() != base.numel():
                raise ModelFileError(f"{self.path}: the Control-LoRA's {layer} does not fit the "
                                     f"{base_model.family} MODEL's layer {tuple(base.shape)}: another model type")
            composed[target] = base + delta.reshape(base.shape)
        return composed


class ControlNet:
    """CONTROL_NET: a network, and once applied its hint, strength, percent range and the previous ControlNet."""

    def __init__(self, weights: ControlNetWeights):
        self.weights = weights
        self.hint: torch.Tensor | None = None  # IMAGE moved to [B, 3, H, W]
        self.strength = 1.0
        self.percent = (0.0, 1.0)
        self.previous: ControlNet | None = None
        self.applied_by = "ControlNetApply"  # node name for errors at sampling time
        self._sigma_range: tuple[float, float] | None = None
        self._downscale = 8  # latent → pixel factor of the model it runs with (set by pre_run)
        self._hint_cache: dict = {}

    def __repr__(self) -> str:
        return f"ControlNet({self.weights.path.name!r}, family={self.weights.family!r}, strength={self.strength})"

    @property
    def family(self) -> str:
        return self.weights.family

    def __cache_size__(self) -> tuple[int, int]:
        return self.weights.__cache_size__()

    def __cache_offload__(self) -> None:
        self.weights.offload()

    def applied(self, hint: torch.Tensor, strength: float, percent: tuple[float, float],
                previous: "ControlNet | None", node: str) -> "ControlNet":
        """A copy carrying a hint (`[B, 3, H, W]`), strength and percent range, chained after `previous`."""
        other = copy.copy(self)
        other.hint, other.strength, other.percent = hint, float(strength), (float(percent[0]), float(percent[1]))
        other.previous, other.applied_by = previous, node
        other._sigma_range, other._hint_cache = None, {}
        return other

    def chain(self) -> list["ControlNet"]:
        found, node = [], self
        while node is not None:
            found.append(node)
            node = node.previous
        return found

    def check_model(self, family: str, what: str) -> None:
        if not families.get(family).fits(self.family):
            raise ModelFileError(f"{what}: the ControlNet {self.weights.path.name} is for "
                                 f"{families.label(self.family)} models but the MODEL is {families.label(family)}")

    def pre_run(self, model) -> None:
        """Before sampling: check the model family, move the network next to the model, resolve the σ range."""
        ms = model.model_sampling
        for control in self.chain():
            if isinstance(control.weights, ControlLoraWeights):
                control.weights.build_for(model)
            control.check_model(model.family, f"{control.applied_by}: input 'control_net'")
            control.weights.load(model.device)
            control._sigma_range = (ms.percent_to_sigma(control.percent[0]), ms.percent_to_sigma(control.percent[1]))
            control._downscale = model.latent_format.downscale

    def cleanup(self) -> None:
        for control in self.chain():
            control._hint_cache = {}

    def _active(self, sigma: float) -> bool:
        if self._sigma_range is None:
            return True
        start, end = self._sigma_range
        return end <= sigma <= start

    def _hint_for(self, x: torch.Tensor, n_chunks: int, downscale: int) -> torch.Tensor:
        """The hint resized (centre crop, nearest-exact) to the latent × downscale and repeated to the batch."""
        from runtime.imaging.resample import upscale

        height, width = x.shape[-2] * downscale, x.shape[-1] * downscale
        key = (height, width, x.shape[0], x.device, x.dtype)
        if key not in self._hint_cache:
            hint = self.hint
            if tuple(hint.shape[-2:]) != (height, width):
                hint = upscale(hint.float(), width, height, "nearest-exact", "center")
            per_chunk = x.shape[0] // max(1, n_chunks)
            if hint.shape[0] != per_chunk:
                hint = hint.repeat(-(-per_chunk // hint.shape[0]), 1, 1, 1)[:per_chunk]
            self._hint_cache[key] = hint.repeat(n_chunks, 1, 1, 1).to(x.device, x.dtype)
        return self._hint_cache[key]

    @torch.no_grad()
    def get_control(self, x_noisy: torch.Tensor, sigma: torch.Tensor, cond: dict, n_chunks: int) -> dict | None:
        """{"down": [...], "mid": tensor}: this ControlNet's residuals (× strength) plus its chain's before it."""
        previous = self.previous.get_control(x_noisy, sigma, cond, n_chunks) if self.previous else None
        if self.hint is None or not self._active(float(sigma.reshape(-1)[0])):
            return previous
        network = self.weights.network
        device, dtype = self.weights.device, self.weights.dtype
        x_in = cond["x_in"].to(device, dtype)
        extras = {k: v.to(device, dtype) for k, v in cond["extras"].items() if k in ("text_embeds", "time_ids")}
        down, mid = network(x_in, cond["timestep"].to(device), encoder_hidden_states=cond["context"].to(device, dtype),
                            controlnet_cond=self._hint_for(x_in, n_chunks, self._downscale),
                            conditioning_scale=self.strength, added_cond_kwargs=extras or None, return_dict=False)
        down = list(down)
        if self.weights.global_average_pooling:
            down = [t.mean(dim=(2, 3), keepdim=True) for t in down]
            mid = mid.mean(dim=(2, 3), keepdim=True)
        return merge_residuals({"down": down, "mid": mid}, previous)


def merge_residuals(current: dict, previous: dict | None) -> dict:
    """One control's residuals plus those of the controls before it in its chain, of any kinds.

    Kinds are "down" and "mid" (ControlNets) and "intrablock" (T2I-Adapters). As in ComfyUI's control merge, each
    kind is summed position by position; a kind or position only one side has is kept as it is.
    """
    if not previous:
        return current
    merged = dict(previous)
    for kind, value in current.items():
        before = merged.get(kind)
        if before is None:
            merged[kind] = value
        elif isinstance(value, torch.Tensor):
            merged[kind] = value + before.to(value)
        else:
            longer, shorter = (value, before) if len(value) >= len(before) else (before, value)
            merged[kind] = [a + b.to(a) for a, b in zip(longer, shorter)] + list(longer[len(shorter):])
    return merged
