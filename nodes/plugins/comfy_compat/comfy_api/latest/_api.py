"""`ComfyAPI` / `ComfyAPISync`: `execution.set_progress` reports to the running node through diffloom's progress hook
(the legacy `progress` event and `progress_state` follow from it; ComfyUI sends only the latter here)."""

from __future__ import annotations


def _preview(image, ignore_size_limit: bool):
    """A PIL image or an IMAGE tensor as the (format, image, max size) preview the hook sends."""
    if image is None:
        return None
    if hasattr(image, "movedim"):  # IMAGE [B, H, W, C] in 0..1: its first picture
        from PIL import Image

        pixels = (image[0, ..., :3].clamp(0, 1) * 255).round().byte().cpu().numpy()
        image = Image.fromarray(pixels)
    return ("JPEG", image, None if ignore_size_limit else 512)


def _set_progress(value: float, max_value: float, node_id: str | None = None, preview_image=None,
                  ignore_size_limit: bool = False) -> None:
    from executor import progress

    progress.report(value, max_value, _preview(preview_image, ignore_size_limit))  # node_id: always the running node


class _SyncExecution:
    def set_progress(self, value: float, max_value: float, node_id: str | None = None, preview_image=None,
                     ignore_size_limit: bool = False) -> None:
        _set_progress(value, max_value, node_id, preview_image, ignore_size_limit)


class _AsyncExecution:
    async def set_progress(self, value: float, max_value: float, node_id: str | None = None, preview_image=None,
                           ignore_size_limit: bool = False) -> None:
        _set_progress(value, max_value, node_id, preview_image, ignore_size_limit)


class ComfyAPISync:
    def __init__(self):
        self.execution = _SyncExecution()


class ComfyAPI:
    def __init__(self):
        self.execution = _AsyncExecution()
