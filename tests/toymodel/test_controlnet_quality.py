"""The shipped silhouette ControlNet through workflows/controlnet.json: the shape goes where the control image
puts it (IoU ≥ 0.7 between the drawn shape and the silhouette); without the ControlNet it does not."""

from __future__ import annotations

import numpy as np
import pytest

from tools.toymodel import domain, evaluate

pytestmark = pytest.mark.slow
CASES = 20


def _ious(toy_runner, strength: float) -> list[float]:
    toy_runner.require("controlnet")
    rng = np.random.default_rng(909)
    prompt = toy_runner.prompt("controlnet")
    ious = []
    for index in range(CASES):
        wanted = domain.render(domain.sample_spec(rng, domain.DomainConfig(position_prob=0.0)))
        variant = prompt.copy()
        variant.inputs("LoadImage")["image"] = toy_runner.add_input(f"silhouette-{index}.png", wanted.control)
        variant.inputs("ControlNetApplyAdvanced")["strength"] = strength
        variant.positive()["text"] = wanted.caption
        variant.inputs("KSampler")["seed"] = index
        drawn = evaluate.judge(toy_runner.run(variant)).mask
        ious.append(float((drawn & wanted.mask).sum() / max((drawn | wanted.mask).sum(), 1)))
    return ious


def test_controlnet_puts_the_shape_where_the_silhouette_is(toy_runner):
    controlled, free = _ious(toy_runner, 1.0), _ious(toy_runner, 0.0)
    print(f"IoU with the silhouette: ControlNet {np.mean(controlled):.2f} (min {np.min(controlled):.2f}), "
          f"strength 0 {np.mean(free):.2f}")
    assert np.mean(controlled) >= 0.7 and np.mean(np.asarray(controlled) >= 0.7) >= 0.8
    assert np.mean(free) < 0.5
