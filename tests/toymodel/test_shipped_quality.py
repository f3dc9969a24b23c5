"""The shipped toy model, run as a user runs it: the shipped txt2img workflow file through the executor.

Fifty varied in-domain prompts at the workflow's settings (euler, normal, 20 steps, CFG 7): colour, background
and shape must all be right in at least 90% of the pictures. Without guidance (CFG 1, the same seeds) they must be
clearly worse, at least 30 points lower: the toy's last training stage used loose captions (each of the three
words wrong 15% of the time), so its conditional model alone follows a prompt only partly, and guidance is what
makes it exact. Were guidance ignored, reversed or applied to the wrong branch, this would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

PROMPTS = 50


def _score(toy_runner, cfg: float) -> dict:
    from tools.toymodel.quality import score_pictures

    prompt = toy_runner.prompt("txt2img")

    def picture(caption: str, index: int) -> np.ndarray:
        variant = prompt.copy()
        variant.positive()["text"] = caption
        variant.inputs("KSampler").update(seed=1000 + index, cfg=cfg)
        return toy_runner.run(variant)

    return score_pictures(picture, count=PROMPTS)


@pytest.mark.slow
def test_txt2img_workflow_draws_the_prompt_and_cfg_matters(toy_runner):
    guided, unguided = _score(toy_runner, cfg=7.0), _score(toy_runner, cfg=1.0)
    print(f"CFG 7: {guided}\nCFG 1: {unguided}")
    assert guided["all"] >= 0.9
    assert unguided["all"] <= guided["all"] - 0.3
    # and the finer measure agrees: without guidance the painted colour is farther from the named one
    assert unguided["colour_error"] > 2 * guided["colour_error"]
