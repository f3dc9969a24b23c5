"""Score every sampler × scheduler pair on a toy checkpoint and write the table as Markdown.

    .venv/bin/python -m tools.toymodel.sampler_table models/checkpoints/toy.safetensors \
        --results build/sampler_table.jsonl --shard 0/2          # one process per core
    .venv/bin/python -m tools.toymodel.sampler_table models/checkpoints/toy.safetensors \
        --results build/sampler_table.jsonl --markdown docs/toymodel-samplers.md

Each pair samples the same prompts (one KSampler batch, the quality command's settings: 20 steps, CFG 7) and
scores "all right" (colour, background and shape). Results are appended as JSON lines, so shards and reruns
add up; a pair already in the file is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES
from tools.toymodel.checkpoint import load_for_sampling
from tools.toymodel.quality import score_batch

REFERENCE = ("euler", "normal")
FAR_BELOW = 0.15  # the threshold: a pair this far below euler/normal needs a fix or a reason


def pairs(shard: int = 0, shards: int = 1) -> list[tuple[str, str]]:
    """Every (sampler, scheduler), the reference first; shard k of n takes every n-th pair."""
    every = [REFERENCE] + [(a, b) for a in SAMPLER_NAMES for b in SCHEDULER_NAMES if (a, b) != REFERENCE]
    return every[shard::shards]


def read_results(path: Path) -> dict[tuple[str, str], dict]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(row["sampler"], row["scheduler"]): row for row in rows}


def run(checkpoint: Path, results: Path, count: int, steps: int, cfg: float, shard: int = 0, shards: int = 1,
        only: list[tuple[str, str]] | None = None) -> None:
    model, clip, vae = load_for_sampling(checkpoint)
    done = read_results(results)
    results.parent.mkdir(parents=True, exist_ok=True)
    for sampler, scheduler in only or pairs(shard, shards):
        if (sampler, scheduler) in done:
            continue
        started = time.perf_counter()
        try:
            scores = score_batch(model, clip, vae, count, steps=steps, cfg=cfg, sampler=sampler, scheduler=scheduler)
            row = {"sampler": sampler, "scheduler": scheduler, "all": scores["all"], "colour": scores["colour"],
                   "background": scores["background"], "shape": scores["shape"]}
        except Exception as error:  # a failing pair is a finding for the table, not the end of the run
            row = {"sampler": sampler, "scheduler": scheduler, "error": f"{type(error).__name__}: {error}"}
        row.update(count=count, steps=steps, cfg=cfg, seconds=round(time.perf_counter() - started, 2))
        with results.open("a") as out:
            out.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def markdown(results: dict[tuple[str, str], dict]) -> str:
    """Samplers as rows, schedulers as columns, "all right" in percent; far-below cells are bold."""
    reference = results[REFERENCE]["all"]
    lines = ["| sampler | " + " | ".join(SCHEDULER_NAMES) + " |", "|---" * (len(SCHEDULER_NAMES) + 1) + "|"]
    for sampler in SAMPLER_NAMES:
        cells = []
        for scheduler in SCHEDULER_NAMES:
            row = results.get((sampler, scheduler))
            if row is None:
                cells.append("–")
            elif "error" in row:
                cells.append("error")
            else:
                value = f"{row['all'] * 100:.0f}"
                cells.append(f"**{value}**" if _is_far_below(row, reference) else value)
        lines.append(f"| `{sampler}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TABLE_START, TABLE_END = "<!-- table -->", "<!-- /table -->"


def with_table(page: str, table: str) -> str:
    """`page` with everything between its table markers replaced by `table` (the prose around it is kept)."""
    start, end = page.index(TABLE_START) + len(TABLE_START), page.index(TABLE_END)
    return page[:start] + "\n" + table + page[end:]


def _is_far_below(row: dict, reference: float) -> bool:
    return "error" in row or row["all"] < reference - FAR_BELOW


def far_below(results: dict[tuple[str, str], dict]) -> list[tuple[str, str, float]]:
    reference = results[REFERENCE]["all"]
    return sorted((s, k, row.get("all", 0.0)) for (s, k), row in results.items() if _is_far_below(row, reference))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.toymodel.sampler_table", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--results", type=Path, default=Path("build/sampler_table.jsonl"))
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--shard", default="0/1", help="k/n: run every n-th pair starting at k")
    parser.add_argument("--markdown", type=Path,
                        help="only put the table from --results into this file, between its table markers")
    parser.add_argument("--only", nargs="+", metavar="SAMPLER/SCHEDULER", help="score just these pairs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.markdown:
        results = read_results(args.results)
        args.markdown.write_text(with_table(args.markdown.read_text(), markdown(results)))
        for sampler, scheduler, value in far_below(results):
            print(f"far below euler/normal: {sampler} / {scheduler}: {value:.0%}")
        return 0
    torch.set_num_threads(args.threads)
    shard, shards = (int(part) for part in args.shard.split("/"))
    only = [tuple(pair.split("/")) for pair in args.only] if args.only else None
    run(args.checkpoint, args.results, args.count, args.steps, args.cfg, shard, shards, only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
