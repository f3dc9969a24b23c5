"""V3 UI results: `PreviewImage`, `PreviewMask` and `PreviewText`; each is the `ui` dict of a node's result."""

from __future__ import annotations


class PreviewImage(dict):
    """The images saved to the temp folder for the canvas to show (`{"images": [...]}`)."""

    def __init__(self, image, cls=None, **_options):
        from nodes.stages.image import preview_prefix, save_images

        super().__init__(save_images(image, preview_prefix(), "temp", compress_level=1,
                                     node=getattr(cls, "__name__", "PreviewImage"))["ui"])


class PreviewMask(PreviewImage):
    def __init__(self, mask, cls=None, **options):
        super().__init__(mask.reshape((-1, 1, *mask.shape[-2:])).movedim(1, -1).expand(-1, -1, -1, 3), cls, **options)


class PreviewText(dict):
    def __init__(self, value: str, **_options):
        super().__init__(text=[str(value)])
