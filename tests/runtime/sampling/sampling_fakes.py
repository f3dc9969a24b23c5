"""A cheap stand-in MODEL for sampling tests: a linear "UNet" that records its calls."""

import copy

import torch

from runtime.latent_format import LatentFormat
from runtime.sampling.model_sampling import DiscreteSampling


class FakeModel:
    """MODEL contract (docs/architecture.md) with an eps "UNet" linear in its input and in the text context."""

    def __init__(self, prediction_type="eps"):
        self.model_sampling = DiscreteSampling(prediction_type)
        self.latent_format = LatentFormat()
        self.device = torch.device("cpu")
        self.calls = []  # (batch size, context tokens, extras keys, control)
        self.seen_options = []  # what extra_conds was given

    def load(self, device=None):
        pass

    def clone(self):
        return copy.copy(self)

    def extra_conds(self, options, latent_shape):
        self.seen_options.append(options)
        return {"y": torch.full((1, 2), 1.0 if options.get("prompt_type") == "positive" else -1.0)}

    def unet_forward(self, x, timestep, context, extras, control=None):
        self.calls.append((x.shape[0], context.shape[1], tuple(sorted(extras)), control))
        assert extras["y"].shape[0] == x.shape[0]
        out = 0.5 * x + context.mean(dim=(1, 2)).view(-1, 1, 1, 1) + 0.001 * timestep.view(-1, 1, 1, 1)
        if control is not None:
            out = out + control["mid"]
        return out


def cond(value: float, tokens: int = 77, **options):
    """A one-entry CONDITIONING whose context is the constant `value`."""
    return [[torch.full((1, tokens, 8), float(value)), options]]
