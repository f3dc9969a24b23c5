"""Run every shipped workflow on the shipped toy files and put the results side by side (the README's picture).

    .venv/bin/python -m tools.toymodel.gallery docs/images/toy-workflows.png

Each workflow runs as `diffloom run` runs it (editor JSON → API prompt → executor); the strip shows, left to
right, what each one saved, each scaled to 96 pixels high. Prints the order.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HEIGHT = 96
GAP = 4


def run_workflows(names: list[str]) -> list[np.ndarray]:
    from PIL import Image

    import runtime
    from executor.convert import editor_to_api
    from executor.engine import Executor
    from nodes.registry import NodeRegistry

    with tempfile.TemporaryDirectory() as scratch, runtime.configured(
            paths=runtime.Paths.create(ROOT, output_dir=scratch, temp_dir=scratch)):
        classes = NodeRegistry.builtin().classes
        executor = Executor(classes)
        pictures = []
        for name in names:
            prompt = editor_to_api(json.loads((ROOT / "workflows" / f"{name}.json").read_text()), classes)
            result = executor.execute(prompt, name)
            if not result.success:
                raise RuntimeError(f"{name}: {result.error}")
            saved = [entry for ui in result.outputs.values() for entry in ui.get("images", [])
                     if entry["type"] == "output"]
            with Image.open(Path(scratch) / saved[0]["subfolder"] / saved[0]["filename"]) as picture:
                pictures.append(np.asarray(picture.convert("RGB")))
        return pictures


def strip(pictures: list[np.ndarray]) -> np.ndarray:
    """The pictures scaled (nearest neighbour) to one height, white gaps between them."""
    from PIL import Image

    scaled = []
    for picture in pictures:
        height, width = picture.shape[:2]
        size = (round(width * HEIGHT / height), HEIGHT)
        scaled.append(np.asarray(Image.fromarray(picture).resize(size, Image.NEAREST)))
        scaled.append(np.full((HEIGHT, GAP, 3), 255, dtype=np.uint8))
    return np.concatenate(scaled[:-1], axis=1)


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/images/toy-workflows.png")
    names = sorted(path.stem for path in (ROOT / "workflows").glob("*.json"))
    names.remove("txt2img")
    names.insert(0, "txt2img")
    Image.fromarray(strip(run_workflows(names))).save(out)
    print(out, "left to right:", ", ".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
