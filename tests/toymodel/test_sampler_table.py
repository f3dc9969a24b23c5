"""The sampler × scheduler table: the command scores pairs on the shipped toy model, and docs/ holds a complete
table whose far-below pairs are each explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES
from tools.toymodel import sampler_table

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "toymodel-samplers.md"


@pytest.mark.slow
def test_the_command_scores_pairs_and_fills_the_page(tmp_path):
    results = tmp_path / "pairs.jsonl"
    checkpoint = ROOT / "models" / "checkpoints" / "toy.safetensors"
    sampler_table.main([str(checkpoint), "--results", str(results), "--count", "4", "--only", "euler/normal",
                        "dpmpp_2m/karras"])
    rows = sampler_table.read_results(results)
    assert set(rows) == {("euler", "normal"), ("dpmpp_2m", "karras")}
    assert all(0.0 <= row["all"] <= 1.0 and row["count"] == 4 for row in rows.values())
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- table -->\nold\n<!-- /table -->\nafter\n")
    sampler_table.main([str(checkpoint), "--results", str(results), "--markdown", str(page)])
    text = page.read_text()
    assert text.startswith("before\n<!-- table -->\n| sampler |") and text.endswith("<!-- /table -->\nafter\n")
    assert "old" not in text and len(re.findall(r"^\| `", text, re.M)) == len(SAMPLER_NAMES)


def test_docs_table_covers_every_pair_and_explains_the_far_below_ones():
    text = PAGE.read_text()
    table = text[text.index("<!-- table -->"):text.index("<!-- /table -->")]
    rows = {m.group(1): m.group(2).split(" | ") for m in re.finditer(r"^\| `(\w+)` \| (.*) \|$", table, re.M)}
    assert set(rows) == set(SAMPLER_NAMES)
    assert all(len(cells) == len(SCHEDULER_NAMES) and "–" not in cells for cells in rows.values())
    explained = text[text.index("## The pairs far below"):]
    for sampler, cells in rows.items():
        for scheduler, cell in zip(SCHEDULER_NAMES, cells):
            if cell.startswith("**") or cell == "error":
                named = f"`{sampler}`" in explained or f"`{scheduler}`, every sampler" in explained
                assert named, f"{sampler} / {scheduler} is far below but not explained"
