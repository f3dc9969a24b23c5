"""The GUIDER: classifier-free guidance over conditioning — areas, masks, timestep ranges, batched UNet calls (§7.5).

A `Guider` is the denoiser of a sampling run (`sample.sample`); `Guider.sample` is ComfyUI's GUIDER method, which
hands the guider to that run.

A CONDITIONING side is a list of `[cond, options]` entries. Each entry predicts the clean latent over its area,
weighted by strength × mask (areas without a mask get an 8-latent-pixel feather at inner edges); the predictions
of one side are averaged by weight. Entries of both sides with compatible shapes go through one UNet call.

ControlNet hook: an entry's `control` option, if set, is an object with
`get_control(x_noisy, sigma, cond, n_chunks) -> {"down": [...], "mid": tensor, "intrablock": [...]} | None` (any
of the keys), called once per batched UNet call (`cond` holds the batched `context`, `extras`, `timestep` and the
scaled input `x_in`); optional `pre_run(model)` and `cleanup()` are called around a sampling run. Entries sharing a
control object batch together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from runtime.sampling.sample import sample

FEATHER = 8  # latent pixels of linear fade at the inner edges of an area without mask


@dataclass
class Cond:
    """One conditioning entry made ready for a sampling run (areas in latent units (h, w, y, x))."""

    context: torch.Tensor
    extras: dict
    area: tuple | None = None
    strength: float = 1.0
    mask: torch.Tensor | None = None
    mask_strength: float = 1.0
    sigma_start: float | None = None  # inactive while σ > sigma_start
    sigma_end: float | None = None  # inactive while σ < sigma_end
    control: object | None = None
    control_apply_to_uncond: bool = False


@dataclass
class Piece:
    """What one Cond contributes at one model call: its (cropped) input and per-pixel weight."""

    cond: Cond
    side: int
    x: torch.Tensor
    area: tuple | None  # clipped to the latent
    mult: torch.Tensor | float  # per-pixel weight, or the plain strength when it is uniform


def _mask_bounds(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """`set_area_to_bounds`: the bounding box of the mask (union over the batch) as an area, at least 8×8."""
    bounds = mask.abs().amax(dim=0)
    if not bool((bounds != 0).any()):
        return (8, 8, 0, 0)  # an empty mask makes the entry a no-op anyway; keep the call small
    ys, xs = torch.where(bounds != 0)
    y, x = int(ys.min()), int(xs.min())
    return (max(8, int(ys.max()) - y + 1), max(8, int(xs.max()) - x + 1), y, x)


def _resolve_area(area, height: int, width: int) -> tuple:
    if area[0] == "percentage":
        h, w, y, x = area[1:]
        return (max(1, round(h * height)), max(1, round(w * width)), round(y * height), round(x * width))
    return tuple(int(v) for v in area)


def check_conditioning(side: str, conditioning) -> None:
    def is_entry(entry) -> bool:
        return isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], dict)

    if not isinstance(conditioning, (list, tuple)) or not all(is_entry(entry) for entry in conditioning):
        raise TypeError(f"{side} conditioning must be a CONDITIONING list of [tensor, options] entries, "
                        f"got {type(conditioning).__name__}")


def prepare_side(model, conditioning, latent_shape, side: str, extra_options: dict | None = None) -> list[Cond]:
    """Resolve percentage areas, resize masks, turn percent ranges into σ ranges and compute the UNet extras."""
    check_conditioning(side, conditioning)
    height, width = latent_shape[-2:]
    ms = model.model_sampling
    prepared = []
    for entry in conditioning:
        context, options = entry[0], dict(entry[1])
        area = _resolve_area(options["area"], height, width) if "area" in options else None
        mask = options.get("mask")
        if mask is not None:
            mask = mask.float()
            if mask.ndim == 2:
                mask = mask.unsqueeze(0)
            if tuple(mask.shape[-2:]) != (height, width):
                mask = F.interpolate(mask.unsqueeze(1), size=(height, width), mode="bilinear").squeeze(1)
            if options.get("set_area_to_bounds", False):
                area = _mask_bounds(mask)
        start, end = options.get("start_percent"), options.get("end_percent")
        # like ComfyUI: the size conditioning defaults to the image size (latent × 8), the side names the prompt
        defaults = {"width": width * 8, "height": height * 8, "prompt_type": side, **(extra_options or {})}
        extras = model.extra_conds({**defaults, **options}, latent_shape)
        prepared.append(Cond(
            context=context, extras=extras, area=area, strength=float(options.get("strength", 1.0)), mask=mask,
            mask_strength=float(options.get("mask_strength", 1.0)),
            sigma_start=ms.percent_to_sigma(start) if start is not None else None,
            sigma_end=ms.percent_to_sigma(end) if end is not None else None,
            control=options.get("control"), control_apply_to_uncond=options.get("control_apply_to_uncond", False)))
    return prepared


def _area_size(area) -> int:
    return area[0] * area[1]


def _inside(inner, outer) -> bool:
    return (inner[2] >= outer[2] and inner[3] >= outer[3] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])


def add_opposite_areas(sides: list[list[Cond]]) -> None:
    """Give every area entry a twin on the other side (same area, weights and range) that carries the text of
    the smallest entry there covering it, so both sides of CFG are averaged over the same regions."""
    for i, side in enumerate(sides):
        for cond in list(side):
            if cond.area is None:
                continue
            for j, other in enumerate(sides):
                if i == j:
                    continue
                smallest = None
                for candidate in other:
                    if candidate.area is None:
                        smallest = smallest or candidate
                    elif _inside(cond.area, candidate.area) and (
                            smallest is None or smallest.area is None
                            or _area_size(smallest.area) > _area_size(candidate.area)):
                        smallest = candidate
                if smallest is None or smallest.area == cond.area:
                    continue
                other.append(replace(cond, context=smallest.context, extras=smallest.extras))


def lend_to_uncond(values: list, negative: list, free, with_value) -> list:
    """ComfyUI's rule for ControlNets and GLIGEN boxes on the positive side (entries without area): they go, round
    robin, to the negative entries without area that `free` says have none — unless one already has its own."""
    candidates = [k for k, entry in enumerate(negative) if free(entry) is not None]
    if not values or any(not free(negative[k]) for k in candidates):
        return negative
    negative = list(negative)
    for n, value in enumerate(values):
        if candidates:
            k = candidates[n % len(candidates)]
            negative[k] = with_value(negative[k], value)
    return negative


def _free_of_control(cond: Cond):
    """None for an area entry (not a candidate), else whether it has no control yet."""
    return None if cond.area is not None else cond.control is None


def _free_of_gligen(entry):
    return None if "area" in entry[1] else entry[1].get("gligen") is None


def share_control_with_uncond(positive: list[Cond], negative: list[Cond]) -> list[Cond]:
    """ControlNets applied "to both" (control_apply_to_uncond) reach negative entries that have none."""
    controls = [c.control for c in positive if c.area is None and c.control is not None and c.control_apply_to_uncond]
    return lend_to_uncond(controls, negative, _free_of_control, lambda c, control: replace(c, control=control))


def share_gligen_with_uncond(positive: list, negative: list) -> list:
    """GLIGEN boxes of the positive side also guide the negative side (raw CONDITIONING entries)."""
    boxes = [e[1]["gligen"] for e in positive if "area" not in e[1] and e[1].get("gligen") is not None]
    return lend_to_uncond(boxes, negative, _free_of_gligen, lambda e, box: [e[0], {**e[1], "gligen": box}])


def _piece(cond: Cond, side: int, x: torch.Tensor, sigma: float) -> Piece | None:
    if cond.sigma_start is not None and sigma > cond.sigma_start:
        return None
    if cond.sigma_end is not None and sigma < cond.sigma_end:
        return None
    batch, channels, height, width = x.shape
    x_in, area = x, None
    if cond.area is not None:
        h, w, y, x0 = cond.area
        area = (min(height - y, h), min(width - x0, w), y, x0)
        x_in = x[:, :, y:y + area[0], x0:x0 + area[1]]
    mult: torch.Tensor | float = cond.strength
    if cond.mask is not None:
        mask = cond.mask[:batch].to(x)
        if area is not None:
            mask = mask[:, area[2]:area[2] + area[0], area[3]:area[3] + area[1]]
        mask = mask * cond.mask_strength
        mult = mask.unsqueeze(1).repeat(batch // mask.shape[0], channels, 1, 1) * cond.strength
    elif area is not None:
        mult = torch.full_like(x_in, cond.strength)
        _feather(mult, area, height, width)
    return Piece(cond=cond, side=side, x=x_in, area=area, mult=mult)


def _feather(mult: torch.Tensor, area, height: int, width: int) -> None:
    """Fade the weight linearly over FEATHER latent pixels at the area's inner edges (in place)."""
    for dim, size, offset, full in ((2, area[0], area[2], height), (3, area[1], area[3], width)):
        ramp = min(FEATHER, mult.shape[dim] // 4)
        for t in range(ramp):
            if offset != 0:
                mult.narrow(dim, t, 1).mul_((t + 1) / ramp)
            if size + offset < full:
                mult.narrow(dim, size - 1 - t, 1).mul_((t + 1) / ramp)


def _fit_extra(value: torch.Tensor, batch: int, area, height: int, width: int) -> torch.Tensor:
    """Repeat a per-entry UNet extra to the batch; spatial ones (inpainting concat) are cropped to the area."""
    if value.shape[0] != batch:
        value = value.repeat(math.ceil(batch / value.shape[0]), *([1] * (value.ndim - 1)))[:batch]
    if area is not None and value.ndim == 4 and tuple(value.shape[-2:]) == (height, width):
        value = value[:, :, area[2]:area[2] + area[0], area[3]:area[3] + area[1]]
    return value


def _batchable(a: Piece, b: Piece) -> bool:
    if a.x.shape != b.x.shape or a.cond.control is not b.cond.control:
        return False
    ca, cb = a.cond.context, b.cond.context
    if ca.shape[0] != cb.shape[0] or ca.shape[2] != cb.shape[2]:
        return False
    if math.lcm(ca.shape[1], cb.shape[1]) // min(ca.shape[1], cb.shape[1]) > 4:
        return False  # padding by repetition beyond 4× costs more than a second call
    ea, eb = a.cond.extras, b.cond.extras
    return ea.keys() == eb.keys() and all(ea[k].shape == eb[k].shape for k in ea)


def _batched_inputs(pieces: list[Piece], height: int, width: int) -> tuple[torch.Tensor, dict]:
    """The batch's context and UNet extras. Contexts of different token counts are repeated to their LCM:
    attention over repeated keys is unchanged."""
    target = math.lcm(*(p.cond.context.shape[1] for p in pieces))
    context = torch.cat([p.cond.context.expand(p.x.shape[0], -1, -1).repeat(1, target // p.cond.context.shape[1], 1)
                         if target != p.cond.context.shape[1] else p.cond.context.expand(p.x.shape[0], -1, -1)
                         for p in pieces])
    extras = {k: torch.cat([_fit_extra(p.cond.extras[k], p.x.shape[0], p.area, height, width) for p in pieces])
              for k in pieces[0].cond.extras}
    return context, extras


def predict(model, x: torch.Tensor, sigma: torch.Tensor, sides: list[list[Cond] | None],
            cache: dict | None = None) -> list[torch.Tensor]:
    """The weighted-average denoised prediction of each side at (x, σ), batching compatible entries.

    `cache` (one dict per sampling run) keeps the batched contexts and extras, which repeat every step."""
    ms = model.model_sampling
    sigma_value = float(sigma)
    outputs = [torch.zeros_like(x) for _ in sides]
    weights = [torch.full_like(x, 1e-37) for _ in sides]
    pending = [p for i, side in enumerate(sides) if side is not None
               for c in side if (p := _piece(c, i, x, sigma_value)) is not None]
    while pending:
        # like ComfyUI, the batch is taken in reverse order (so CFG's batch is [uncond, cond])
        batch = [p for p in pending if _batchable(p, pending[0])][::-1]
        pending = [p for p in pending if all(p is not b for b in batch)]
        x_batch = torch.cat([p.x for p in batch])
        sigma_batch = sigma.reshape(1).to(x).expand(x_batch.shape[0])
        key = tuple((id(p.cond), p.area, p.x.shape[0]) for p in batch)
        inputs = cache.get(key) if cache is not None else None
        if inputs is None:
            inputs = _batched_inputs(batch, x.shape[-2], x.shape[-1])
            if cache is not None:
                cache[key] = inputs
        context, extras = inputs
        timestep = ms.timestep(sigma_batch).float()
        x_in = ms.calculate_input(sigma_batch, x_batch)
        control = batch[0].cond.control
        residuals = None
        if control is not None:
            residuals = control.get_control(x_batch, sigma_batch, {"context": context, "extras": extras,
                                                                   "timestep": timestep, "x_in": x_in}, len(batch))
        output = model.unet_forward(x_in, timestep, context, extras, control=residuals)
        denoised = ms.calculate_denoised(sigma_batch, output.to(x_batch), x_batch)
        for piece, chunk in zip(batch, denoised.split([p.x.shape[0] for p in batch])):
            out, weight = outputs[piece.side], weights[piece.side]
            if piece.area is not None:
                h, w, y, x0 = piece.area
                out, weight = out[:, :, y:y + h, x0:x0 + w], weight[:, :, y:y + h, x0:x0 + w]
            out += chunk * piece.mult
            weight += piece.mult
    return [out / weight for out, weight in zip(outputs, weights)]


class Guider:
    """A GUIDER: a model with named conditioning sides and a CFG scale; called as a denoiser.

    `Guider(model, positive, negative, cfg)` is the CFGGuider node's (and KSampler's) guider, `Guider(model,
    conditioning)` the BasicGuider node's (no negative side, no CFG); `Guider(model)` is ComfyUI's
    `CFGGuider(model)`, whose sides come from `set_conds` and scale from `set_cfg`.
    """

    def __init__(self, model, positive=None, negative=None, cfg: float = 1.0):
        self.model = model
        self.cfg = float(cfg)
        self.original = {"positive": positive, "negative": negative}  # name -> CONDITIONING; None: no such side
        self.prepared: dict[str, list[Cond]] = {}
        self._batch_inputs: dict = {}  # batched contexts/extras of the current run
        self.keep_uncond = False  # set for CFG++ samplers: evaluate the negative side even at cfg 1
        self.last_uncond: torch.Tensor | None = None

    def set_cfg(self, cfg: float) -> None:
        self.cfg = float(cfg)

    def set_conds(self, positive, negative) -> None:
        """The positive and negative CONDITIONING (ComfyUI's `CFGGuider.set_conds`)."""
        self.original = {"positive": positive, "negative": negative}

    @property
    def model_options(self) -> dict:
        return getattr(self.model, "model_options", None) or {}

    def prepare(self, latent_shape, extra_options: dict | None = None) -> None:
        """Make the conditioning ready for a latent of `latent_shape` (called once per sampling run)."""
        sides = {name: cond for name, cond in self.original.items() if cond is not None}
        for name, cond in sides.items():
            check_conditioning(name, cond)
        # GLIGEN boxes and "apply to both" ControlNets of the positive side reach the other sides
        others = [name for name in sides if name != "positive"] if "positive" in sides else []
        for name in others:
            sides[name] = share_gligen_with_uncond(sides["positive"], sides[name])
        self.prepared = {name: prepare_side(self.model, cond, latent_shape, name, extra_options)
                         for name, cond in sides.items()}
        self._batch_inputs = {}
        add_opposite_areas(list(self.prepared.values()))
        for name in others:
            self.prepared[name] = share_control_with_uncond(self.prepared["positive"], self.prepared[name])

    def sample(self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False,
               seed=None):
        """ComfyUI's `guider.sample`: `sample.sample` with this guider; returns raw samples."""
        return sample(self, noise, latent_image, sampler, sigmas, denoise_mask, seed, callback)[0]

    def controls(self) -> list:
        seen = []
        for side in self.prepared.values():
            for cond in side:
                if cond.control is not None and all(cond.control is not s for s in seen):
                    seen.append(cond.control)
        return seen

    def _cfg1_shortcut(self, scale: float) -> bool:
        """Whether a side whose weight is `scale` == 1 may be skipped (ComfyUI's cfg-1 optimisation)."""
        return (math.isclose(scale, 1.0) and not self.keep_uncond
                and not self.model_options.get("disable_cfg1_optimization", False))

    def predict(self, x: torch.Tensor, sigma: torch.Tensor, sides: list[str | None]) -> list[torch.Tensor]:
        """The named sides' predictions (a None or missing side predicts zeros, unevaluated)."""
        return predict(self.model, x, sigma, [self.prepared.get(name) if name else None for name in sides],
                       self._batch_inputs)

    def cfg_function(self, cond_pred, uncond_pred, scale: float, x, sigma) -> torch.Tensor:
        """uncond + (cond − uncond)·scale, through the model's sampler_cfg/post_cfg hooks when it has them."""
        options = self.model_options
        self.last_uncond = uncond_pred
        if "sampler_cfg_function" in options:
            args = {"cond": x - cond_pred, "uncond": x - uncond_pred, "cond_scale": scale, "timestep": sigma,
                    "input": x, "sigma": sigma, "cond_denoised": cond_pred, "uncond_denoised": uncond_pred,
                    "model": self.model, "model_options": options}
            result = x - options["sampler_cfg_function"](args)
        else:
            result = uncond_pred + (cond_pred - uncond_pred) * scale
        for post in options.get("sampler_post_cfg_function", []):
            result = post({"denoised": result, "cond": self.prepared.get("positive"),
                           "uncond": self.prepared.get("negative"), "model": self.model,
                           "uncond_denoised": uncond_pred, "cond_denoised": cond_pred, "sigma": sigma,
                           "model_options": options, "input": x, "cond_scale": scale})
        return result

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        negative = None if self._cfg1_shortcut(self.cfg) else "negative"
        cond_pred, uncond_pred = self.predict(x, sigma, ["positive", negative])
        return self.cfg_function(cond_pred, uncond_pred, self.cfg, x, sigma)


class DualScaleGuider(Guider):
    """The DualCFGGuider node's GUIDER, two guidance scales: cond1 against cond2 (cfg_conds) and cond2 against the
    negative (cfg_cond2_negative); "nested" applies the first inside the second."""

    def __init__(self, model, cond1, cond2, negative, cfg_conds: float, cfg_cond2_negative: float,
                 nested: bool = False):
        super().__init__(model, cfg=cfg_conds)
        middle = [[c, {**options, "prompt_type": "negative"}] for c, options in cond2] if cond2 is not None else None
        self.original = {"positive": cond1, "middle": middle, "negative": negative}
        self.cfg2, self.nested = float(cfg_cond2_negative), nested

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if self.nested:
            negative, middle, positive = self.predict(x, sigma, ["negative", "middle", "positive"])
            text = self.cfg_function(positive, middle, self.cfg, x, sigma)
            return negative + (text - negative) * self.cfg2
        negative = None if self._cfg1_shortcut(self.cfg2) else "negative"
        middle = None if negative is None and self._cfg1_shortcut(self.cfg) else "middle"
        negative_pred, middle_pred, positive_pred = self.predict(x, sigma, [negative, middle, "positive"])
        return self.cfg_function(middle_pred, negative_pred, self.cfg2, x, sigma) + (
            positive_pred - middle_pred) * self.cfg
