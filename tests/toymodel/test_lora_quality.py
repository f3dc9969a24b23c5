"""The shipped LoRA through workflows/lora.json. It teaches "huge": the base model only ever drew shapes 0.3-0.55
of the picture's side and never saw the word, so "a huge red circle…" gives it a normal-sized circle. At strength
1 the LoRA draws its concept (a huge shape, and the right shape and colours) in at least 80% of pictures; at
strength 0 almost never. (The base does not know the word: it sometimes paints a large blob or nothing, which is
not the concept; so the concept is counted only where the shape and colours are right too.)"""

from __future__ import annotations

import numpy as np
import pytest

from tools.toymodel import domain, evaluate

pytestmark = pytest.mark.slow
CASES = 20


def _verdicts(toy_runner, strength: float) -> list[dict[str, bool]]:
    toy_runner.require("lora")
    rng = np.random.default_rng(303)
    prompt = toy_runner.prompt("lora")
    prompt.inputs("LoraLoader").update(strength_model=strength, strength_clip=strength)
    verdicts = []
    for index in range(CASES):
        spec = domain.sample_spec(rng, domain.DomainConfig(huge_prob=1.0))
        variant = prompt.copy()
        variant.positive()["text"] = spec.caption
        variant.inputs("KSampler")["seed"] = index
        verdicts.append(evaluate.judge(toy_runner.run(variant)).matches(spec))
    return verdicts


def test_lora_draws_its_concept_only_when_applied(toy_runner):
    applied, off = _verdicts(toy_runner, 1.0), _verdicts(toy_runner, 0.0)
    drawn_on, drawn_off = (np.mean([all(v[k] for k in ("huge", "shape", "colour", "background")) for v in vs])
                           for vs in (applied, off))
    size_on, size_off = (np.mean([v["huge"] for v in vs]) for vs in (applied, off))
    print(f"the concept drawn: strength 1 {drawn_on:.0%}, strength 0 {drawn_off:.0%} "
          f"(huge at all, right or not: {size_on:.0%} and {size_off:.0%})")
    assert drawn_on >= 0.8
    assert drawn_off <= 0.1
