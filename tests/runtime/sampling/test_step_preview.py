"""Sampler previews: an RGB approximation of the current x0, sized by the server's --preview-size."""

import torch

from executor import progress
from runtime.families import latent_format_for
from runtime.sampling.preview import step_preview


def test_no_preview_outside_a_listening_executor():
    assert step_preview(latent_format_for("sd1"), torch.zeros(1, 4, 8, 8)) is None


def test_preview_is_a_jpeg_with_a_max_size_so_the_server_fits_it():
    events = []
    hook = progress.ProgressHook("p", "3", "3", lambda event, data: events.append(event))
    with progress.installed(hook):
        image_format, image, max_size = step_preview(latent_format_for("sd1"), torch.randn(1, 4, 8, 6))
    assert image_format == "JPEG" and image.size == (6, 8)
    assert max_size is not None  # None would mean "send at full size" (SaveImageWebsocket's case)


def test_preview_method_none_turns_previews_off():
    hook = progress.ProgressHook("p", "3", "3", lambda event, data: None)
    hook.preview_method = "none"
    with progress.installed(hook):
        assert step_preview(latent_format_for("sd1"), torch.randn(1, 4, 8, 8)) is None
