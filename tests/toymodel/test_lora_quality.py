"""The shipped star LoRA through workflows/lora.json: at strength 1 it draws its concept (a star, a shape the
base model never saw) in at least 80% of pictures; at strength 0 almost never."""

from __future__ import annotations

import numpy as np
import pytest

from tools.toymodel import domain, evaluate

pytestmark = pytest.mark.slow
CASES = 20


def _results(toy_runner, strength: float) -> list[tuple[bool, bool]]:
    """Per picture: (a star was drawn, colour and background right)."""
    toy_runner.require("lora")
    rng = np.random.default_rng(303)
    prompt = toy_runner.prompt("lora")
    prompt.inputs("LoraLoader").update(strength_model=strength, strength_clip=strength)
    results = []
    for index in range(CASES):
        spec = domain.sample_spec(rng, domain.DomainConfig(shapes=("star",), position_prob=0.0))
        variant = prompt.copy()
        variant.positive()["text"] = spec.caption
        variant.inputs("KSampler")["seed"] = index
        verdict = evaluate.judge(toy_runner.run(variant)).matches(spec)
        results.append((verdict["shape"], verdict["colour"] and verdict["background"]))
    return results


def test_lora_draws_its_concept_only_when_applied(toy_runner):
    applied, off = _results(toy_runner, 1.0), _results(toy_runner, 0.0)
    stars_on, stars_off = np.mean([s for s, _ in applied]), np.mean([s for s, _ in off])
    rest_on = np.mean([r for _, r in applied])
    print(f"stars: strength 1 {stars_on:.0%} (colour+background right {rest_on:.0%}), strength 0 {stars_off:.0%}")
    assert stars_on >= 0.8 and rest_on >= 0.8
    assert stars_off <= 0.1
