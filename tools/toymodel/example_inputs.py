"""The input pictures the shipped workflows load, drawn by the shapes domain (so they are in the toy's world).

    .venv/bin/python -m tools.toymodel.example_inputs input/

`example.png` (img2img, outpaint), `inpaint_example.png` (its transparent pixels are the area to repaint) and
`toy_silhouette.png` (the ControlNet's control image: the white silhouette of the wanted shape).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tools.toymodel import domain

SIZE = 32
# A red circle in the lower right: img2img keeps it there at low denoise.
EXAMPLE = domain.ShapeSpec("circle", "red", "blue", 0.45, (0.64, 0.64))
# The part of the example the inpaint workflow repaints: a square around the circle, in pixels [y0, y1, x0, x1].
INPAINT_BOX = (8, 32, 8, 32)
# Where the ControlNet workflow's shape goes: a square in the upper left.
SILHOUETTE = domain.ShapeSpec("square", "white", "black", 0.4, (0.32, 0.32))


def inpaint_picture(sample: domain.Sample, box: tuple[int, int, int, int] = INPAINT_BOX) -> np.ndarray:
    """RGBA: the picture with alpha 0 inside `box` (LoadImage turns alpha 0 into mask 1)."""
    y0, y1, x0, x1 = box
    alpha = np.full(sample.image.shape[:2], 255, dtype=np.uint8)
    alpha[y0:y1, x0:x1] = 0
    return np.dstack([sample.image, alpha])


def write(folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    example = domain.render(EXAMPLE, SIZE)
    pictures = {"example.png": example.image, "inpaint_example.png": inpaint_picture(example),
                "toy_silhouette.png": domain.render(SILHOUETTE, SIZE).control}
    written = []
    for name, array in pictures.items():
        Image.fromarray(array).save(folder / name)
        written.append(folder / name)
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for path in write(Path(argv[0] if argv else "input")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
