"""Tiny random SD1 / SD2 / SDXL / SDXL-refiner checkpoints for tests, saved in the real single-file layouts.

Each builder makes diffusers / transformers components from a seed, converts them to the original layout
(`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.*` / `conditioner.embedders.N.*`) with the
inverse of the loader's key maps, and writes one .safetensors file. The returned `TinyCheckpoint` also holds the
equivalent diffusers components (`unet`, `vae`, `text_encoder`, `text_encoder_2`, `tokenizer`, `tokenizer_2` —
the keyword names of the diffusers pipelines) for reference tests:

    tiny = write_tiny_sd1(tmp_path / "models" / "checkpoints")
    pipe = StableDiffusionPipeline(**tiny.pipeline_components(), scheduler=EulerDiscreteScheduler(...),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)

Sizes follow the same rules as real models (32 GroupNorm groups, 64-wide heads, 8 heads for SD1, 256-wide SDXL
size embeddings), so the loader derives their configs from shapes exactly as for real files. The VAE has 4 levels
(downscale 8) so EmptyLatentImage sizes match; a 64×64 image is an 8×8 latent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

VOCAB = 49408
L_WIDTH, G_WIDTH, H_WIDTH = 32, 64, 64
SCALE = {"sd1": 0.18215, "sd2": 0.18215, "sdxl": 0.13025, "sdxl_refiner": 0.13025}


@dataclass
class TinyCheckpoint:
    family: str
    path: Path
    components: dict = field(default_factory=dict)  # diffusers/transformers modules with the same weights
    prediction_type: str = "eps"

    @property
    def name(self) -> str:
        return self.path.name

    def pipeline_components(self) -> dict:
        """unet, vae, text_encoder(s), tokenizer(s): the common keyword arguments of diffusers SD pipelines."""
        return dict(self.components)


def tiny_unet_config(family: str, in_channels: int = 4) -> dict:
    xl = family in ("sdxl", "sdxl_refiner")
    config = {
        "sample_size": 8, "in_channels": in_channels, "out_channels": 4, "block_out_channels": [32, 64],
        "layers_per_block": 1,
        "norm_num_groups": 32, "flip_sin_to_cos": True, "freq_shift": 0, "mid_block_type": "UNetMidBlock2DCrossAttn",
    }
    if family == "sd1":
        config.update(down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                      up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], transformer_layers_per_block=[1, 1],
                      cross_attention_dim=L_WIDTH, attention_head_dim=[8, 8], use_linear_projection=False)
    else:
        context = {"sd2": H_WIDTH, "sdxl": L_WIDTH + G_WIDTH, "sdxl_refiner": G_WIDTH}[family]
        down = ["DownBlock2D", "CrossAttnDownBlock2D"] if xl else ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
        config.update(down_block_types=down, up_block_types=[d.replace("Down", "Up") for d in reversed(down)],
                      transformer_layers_per_block=[2, 2] if xl else [1, 1], cross_attention_dim=context,
                      attention_head_dim=[1, 1], use_linear_projection=True)
    if xl:
        n_ids = 5 if family == "sdxl_refiner" else 6
        config.update(addition_embed_type="text_time", addition_time_embed_dim=256,
                      projection_class_embeddings_input_dim=G_WIDTH + n_ids * 256)
    return config


def tiny_vae_config(family: str) -> dict:
    return {"in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4, "block_out_channels": [32, 32, 32, 32],
            "layers_per_block": 1, "latent_channels": 4, "norm_num_groups": 32, "sample_size": 64,
            "scaling_factor": SCALE[family]}


def tiny_clip_config(width: int, openclip: bool, projection: bool):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=VOCAB, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
                          num_attention_heads=max(1, width // 64), max_position_embeddings=77,
                          projection_dim=width, hidden_act="gelu" if openclip else "quick_gelu",
                          layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)


def _seeded(seed: int, factory):
    torch.manual_seed(seed)
    return factory().eval().requires_grad_(False)


def _clip(seed: int, width: int, openclip: bool, projection: bool):
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    config = tiny_clip_config(width, openclip, projection)
    cls = CLIPTextModelWithProjection if projection else CLIPTextModel
    return _seeded(seed, lambda: cls(config))


def clip_original(model, layout: str) -> dict[str, torch.Tensor]:
    """A transformers CLIP text model's weights in the HF (`text_model.*`) or OpenCLIP single-file layout."""
    from runtime.text.clip_keys import hf_clip_state_dict, hf_to_openclip

    canonical = hf_clip_state_dict(model.state_dict())
    if layout == "openclip":
        return hf_to_openclip(canonical)
    return {"text_model." + k: v for k, v in canonical.items() if k != "text_projection.weight"}


def unet_original(unet) -> dict[str, torch.Tensor]:
    from runtime.networks.unet_keys import unet_key_map

    state = unet.state_dict()
    return {original: state[key] for original, key in unet_key_map(dict(unet.config), state).items()}


def vae_original(vae) -> dict[str, torch.Tensor]:
    from runtime.vae.keys import is_attention_projection, vae_key_map

    state = vae.state_dict()
    out = {}
    for original, key in vae_key_map(dict(vae.config), state).items():
        value = state[key]
        out[original] = value[:, :, None, None] if is_attention_projection(key) else value
    return out


def _prefixed(prefix: str, state: dict) -> dict:
    return {prefix + k: v.contiguous() for k, v in state.items()}


def _tokenizer(pad_token: str | None = None):
    from transformers import CLIPTokenizer

    from runtime.text.tokens import TOKENIZER_DIR

    kwargs = {"pad_token": pad_token} if pad_token else {}
    kwargs["model_max_length"] = 77
    return CLIPTokenizer.from_pretrained(str(TOKENIZER_DIR), local_files_only=True, **kwargs)


def model_and_clip_loader(checkpoints: dict):
    """family → (MODEL, CLIP) loaded by diffloom from `checkpoints[family]`, each family loaded once."""
    from runtime.loaders import load_checkpoint

    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = load_checkpoint(checkpoints[family].path)[:2]
        return cache[family]
    return get


def euler_scheduler_on(model_sampling, sigmas):
    """A diffusers EulerDiscreteScheduler (SD betas) pinned to our sigmas and our integer timesteps, also when a
    pipeline calls set_timesteps again, so a pipeline run compares exactly with ours."""
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    set_timesteps = scheduler.set_timesteps

    def aligned(num_inference_steps=None, device=None, sigmas=sigmas, **kwargs):
        set_timesteps(sigmas=list(sigmas), device=device)
        scheduler.timesteps = model_sampling.timestep(torch.as_tensor(sigmas[:-1])).float()
    scheduler.set_timesteps = aligned
    aligned()
    return scheduler


def build_tiny(family: str, seed: int = 0, v_prediction: bool = False, inpaint: bool = False) -> tuple[dict, dict]:
    """(original-layout state dict, diffusers components) of a tiny model of `family` (9 input channels if
    `inpaint`: latent, mask, masked-image latent)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    unet = _seeded(seed, lambda: UNet2DConditionModel(**tiny_unet_config(family, 9 if inpaint else 4)))
    if v_prediction:
        # SD2 768-v models are recognised by the spread of this bias (spec §9.3)
        bias = unet.up_blocks[-1].attentions[-1].transformer_blocks[0].norm1.bias
        bias.copy_(torch.randn(bias.shape, generator=torch.Generator().manual_seed(seed)) * 0.5)
    vae = _seeded(seed + 1, lambda: AutoencoderKL(**tiny_vae_config(family)))
    state = _prefixed("model.diffusion_model.", unet_original(unet))
    state.update(_prefixed("first_stage_model.", vae_original(vae)))
    components = {"unet": unet, "vae": vae}
    if family == "sd1":
        clip_l = _clip(seed + 2, L_WIDTH, openclip=False, projection=False)
        state.update(_prefixed("cond_stage_model.transformer.", clip_original(clip_l, "hf")))
        components.update(text_encoder=clip_l, tokenizer=_tokenizer())
    elif family == "sd2":
        clip_h = _clip(seed + 2, H_WIDTH, openclip=True, projection=True)
        state.update(_prefixed("cond_stage_model.model.", clip_original(clip_h, "openclip")))
        components.update(text_encoder=clip_h, tokenizer=_tokenizer("!"))
    elif family == "sdxl":
        clip_l = _clip(seed + 2, L_WIDTH, openclip=False, projection=False)
        clip_g = _clip(seed + 3, G_WIDTH, openclip=True, projection=True)
        state.update(_prefixed("conditioner.embedders.0.transformer.", clip_original(clip_l, "hf")))
        state.update(_prefixed("conditioner.embedders.1.model.", clip_original(clip_g, "openclip")))
        components.update(text_encoder=clip_l, text_encoder_2=clip_g, tokenizer=_tokenizer(),
                          tokenizer_2=_tokenizer("!"))
    elif family == "sdxl_refiner":
        clip_g = _clip(seed + 3, G_WIDTH, openclip=True, projection=True)
        state.update(_prefixed("conditioner.embedders.0.model.", clip_original(clip_g, "openclip")))
        components.update(text_encoder_2=clip_g, tokenizer_2=_tokenizer("!"))
    else:
        raise ValueError(f"unknown tiny family {family!r}")
    return state, components


def write_tiny(family: str, folder: str | Path, name: str | None = None, seed: int = 0,
               v_prediction: bool = False, inpaint: bool = False) -> TinyCheckpoint:
    """Write a tiny `family` checkpoint as `<folder>/<name>` (default `tiny_<family>[_v][_inpaint].safetensors`)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state, components = build_tiny(family, seed, v_prediction, inpaint)
    suffix = ("_v" if v_prediction else "") + ("_inpaint" if inpaint else "")
    path = folder / (name or f"tiny_{family}{suffix}.safetensors")
    save_file(state, str(path))
    return TinyCheckpoint(family, path, components, "v" if v_prediction else "eps")


def write_tiny_sd1(folder, name=None, seed=0) -> TinyCheckpoint:
    return write_tiny("sd1", folder, name, seed)


def write_tiny_sdxl(folder, name=None, seed=0) -> TinyCheckpoint:
    return write_tiny("sdxl", folder, name, seed)


# --- tiny LoRA files (spec §9.4) ------------------------------------------------------------------------------------

LORA_FORMATS = ("kohya", "kohya_ldm", "peft", "locon", "loha", "lokr")


def _lora_targets(network, convs: bool) -> list[tuple[str, tuple[int, ...]]]:
    """(module path, weight shape) of the Linear layers (and with `convs` the Conv2d layers) of a network."""
    kinds = (torch.nn.Linear, torch.nn.Conv2d) if convs else (torch.nn.Linear,)
    skip = ("time_embedding", "add_embedding", "embeddings", "conv_in", "conv_out", "text_projection")
    return [(name, tuple(module.weight.shape)) for name, module in network.named_modules()
            if isinstance(module, kinds) and not any(s in name for s in skip)]


def _lora_module(shape, fmt: str, rank: int, generator) -> dict[str, torch.Tensor]:
    """The tensors of one module's LoRA in `fmt` (key suffixes without the module name), nonzero everywhere."""
    def rand(*size):
        return torch.randn(size, generator=generator) * 0.2

    out_dim, in_dim, kernel = shape[0], shape[1], tuple(shape[2:])
    alpha = {".alpha": torch.tensor(rank / 2)}
    if fmt == "loha":
        flat = in_dim * (kernel[0] * kernel[1] if kernel else 1)
        return {".hada_w1_a": rand(out_dim, rank), ".hada_w1_b": rand(rank, flat), ".hada_w2_a": rand(out_dim, rank),
                ".hada_w2_b": rand(rank, flat), **alpha}
    if fmt == "lokr":
        # w1 ⊗ (w2_a · w2_b): out = 2·(out/2), in = 1·in
        w2_in = in_dim * (kernel[0] * kernel[1] if kernel else 1)
        return {".lokr_w1": rand(2, 1), ".lokr_w2_a": rand(out_dim // 2, rank), ".lokr_w2_b": rand(rank, w2_in), **alpha}
    down, up = rand(rank, in_dim, *kernel), rand(out_dim, rank, *(1 for _ in kernel))
    if fmt == "peft":
        return {".lora_A.weight": down, ".lora_B.weight": up}
    return {".lora_down.weight": down, ".lora_up.weight": up, **alpha}


def _lora_text_names(tiny: TinyCheckpoint, fmt: str) -> list[tuple[str, object]]:
    """(file prefix, text encoder) pairs of the tiny model in kohya or diffusers naming."""
    pairs = []
    for index, key in enumerate(("text_encoder", "text_encoder_2")):
        if key in tiny.components:
            kohya = "lora_te_" if tiny.family in ("sd1", "sd2") else f"lora_te{index + 1}_"
            pairs.append((f"{key}." if fmt == "peft" else kohya, tiny.components[key]))
    return pairs


def tiny_lora_state(tiny: TinyCheckpoint, fmt: str = "kohya", seed: int = 0, rank: int = 4,
                    text: bool = True, unet: bool = True) -> dict[str, torch.Tensor]:
    """A random LoRA for the tiny model in one of LORA_FORMATS.

    kohya: `lora_unet_<diffusers path>` / `lora_te_…` with alpha; kohya_ldm: `lora_unet_<original path>` (kohya's
    SDXL naming); peft: diffusers `unet.<path>.lora_A.weight`; locon: kohya names incl. resnet convs; loha / lokr:
    LyCORIS (kohya names, convs included).
    """
    from runtime.networks.unet_keys import unet_key_map

    generator = torch.Generator().manual_seed(seed)
    convs = fmt in ("locon", "loha", "lokr")
    state: dict[str, torch.Tensor] = {}
    if unet:
        model = tiny.components["unet"]
        params = [k for k, _ in model.named_parameters()]
        original = {d[:-len(".weight")]: o[:-len(".weight")]
                    for o, d in unet_key_map(dict(model.config), params).items() if d.endswith(".weight")}
        for module, shape in _lora_targets(model, convs):
            if fmt == "peft":
                name = "unet." + module
            elif fmt == "kohya_ldm":
                name = "lora_unet_" + original[module].replace(".", "_")
            else:
                name = "lora_unet_" + module.replace(".", "_")
            state.update({name + k: v for k, v in _lora_module(shape, fmt, rank, generator).items()})
    if text:
        for prefix, encoder in _lora_text_names(tiny, fmt):
            for module, shape in _lora_targets(encoder, convs=False):
                name = prefix + (module if fmt == "peft" else module.replace(".", "_"))
                state.update({name + k: v for k, v in _lora_module(shape, fmt, rank, generator).items()})
    return state


def write_tiny_lora(tiny: TinyCheckpoint, folder: str | Path, fmt: str = "kohya", name: str | None = None,
                    **kwargs) -> Path:
    """Write `tiny_lora_state(tiny, fmt, …)` as `<folder>/<name>` (default `tiny_<family>_<fmt>.safetensors`)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"tiny_{tiny.family}_{fmt}.safetensors")
    save_file({k: v.contiguous() for k, v in tiny_lora_state(tiny, fmt, **kwargs).items()}, str(path))
    return path


# --- tiny ControlNets (spec §9.5) -----------------------------------------------------------------------------------

CONTROL_LAYOUTS = ("original", "diffusers", "diff")


def build_tiny_controlnet(tiny: TinyCheckpoint, seed: int = 0):
    """A diffusers ControlNetModel for the tiny model; its zero-initialised output convs get random weights so a
    ControlNet that is ignored (or mis-loaded) changes the result."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    network = ControlNetModel.from_unet(tiny.components["unet"], conditioning_embedding_out_channels=(16, 16, 16, 16))
    with torch.no_grad():
        for param in network.parameters():
            param.add_(torch.randn_like(param) * 0.05)
        # the hint encoder's last conv is zero-initialised too; a fan-in scaled one lets the hint matter
        conv_out = network.controlnet_cond_embedding.conv_out.weight
        conv_out.copy_(torch.randn_like(conv_out) * 2 / conv_out[0].numel() ** 0.5)
    return network.eval().requires_grad_(False)


def controlnet_original(network, unet) -> dict[str, torch.Tensor]:
    """A ControlNetModel's weights in the original single-file layout (without the `control_model.` prefix)."""
    from runtime.control.controlnet import controlnet_key_map

    state = network.state_dict()
    return {original: state[key] for original, key in controlnet_key_map(dict(unet.config), state).items()}


def control_lora_state(controlnet: dict, base: dict) -> dict:
    """A ControlNet's original-layout weights as a Control-LoRA against the UNet weights `base`."""
    state = {"lora_controlnet": torch.tensor([])}
    for key, value in controlnet.items():
        if key in base and value.ndim >= 2 and key.endswith(".weight"):
            u, s, vh = torch.linalg.svd((value - base[key]).double().flatten(1), full_matrices=False)
            layer = key.removesuffix(".weight")
            up, down = (u * s).float(), vh.float()
            extra = value.shape[2:]
            state[layer + ".up"] = up.reshape(*up.shape, *([1] * len(extra)))
            state[layer + ".down"] = down.reshape(down.shape[0], *value.shape[1:])
        else:
            state[key] = value
    return state


def write_tiny_controlnet(tiny: TinyCheckpoint, folder: str | Path, layout: str = "original", name: str | None = None,
                          seed: int = 0):
    """(path, diffusers ControlNetModel) of a tiny ControlNet saved in one of CONTROL_LAYOUTS.

    original: `control_model.*` keys; diffusers: `ControlNetModel` keys; diff: original layout storing the
    difference to the tiny model's UNet plus a `difference` marker (load with DiffControlNetLoader); control_lora:
    Stability's Control-LoRA layout (unprefixed; each copied weight as its exact full-rank `.up`/`.down` factors of
    the difference to the UNet, everything else in full, and a `lora_controlnet` marker).
    """
    from safetensors.torch import save_file

    network = build_tiny_controlnet(tiny, seed)
    if layout == "diffusers":
        state = dict(network.state_dict())
    else:
        state = controlnet_original(network, tiny.components["unet"])
        if layout == "diff":
            base = unet_original(tiny.components["unet"])
            state = {k: v - base[k] if k in base else v for k, v in state.items()}
            state["difference"] = torch.zeros(1)
        if layout == "control_lora":
            state = control_lora_state(state, unet_original(tiny.components["unet"]))
        else:
            state = _prefixed("control_model.", state)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"tiny_{tiny.family}_controlnet_{layout}.safetensors")
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path, network
