"""BENCHMARKS.md: the machine, the runs, the targets, a table per benchmark and the raw JSON lines.

A run replaces the sections of the benchmarks it ran and keeps the others (read back from the raw lines), so
``python -m diffusion_lightning.bench quality`` updates only its own section."""

import json
import re
from pathlib import Path

from ..errors import ConfigError
from ..training.files import written_whole

RAW = re.compile(r"```jsonl\n(.*?)```", re.DOTALL)


def read_raw(path: Path) -> list[dict]:
    """The raw records of an earlier report, or none; a report whose records cannot be read is refused in one line
    naming the file and line (it is the store of the earlier results: a run must not write over them)."""
    try:
        text = path.read_text() if path.exists() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} cannot be read ({' '.join(str(error).split())}); fix it, or write the report "
                          "elsewhere with --out") from error
    match = RAW.search(text)
    if not match:
        return []
    first_line = text.count("\n", 0, match.start(1)) + 1
    records = []
    for number, line in enumerate(match.group(1).splitlines(), first_line):
        try:
            record = json.loads(line) if line.strip() else None
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}, line {number}: not a JSON record ({error.msg}); fix or remove the line (the "
                              "earlier results are read back from it), or write the report elsewhere with --out"
                              ) from error
        if record is not None and not (isinstance(record, dict) and "bench" in record):
            raise ConfigError(f"{path}, line {number}: a raw record must be a JSON object with a \"bench\" key; fix "
                              "or remove the line, or write the report elsewhere with --out")
        records += [record] if record is not None else []
    return records


def cell(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def table(records: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(k for r in records for k in r if k != "bench"))
    return ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
            *("| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in records)]


def first(records: list[dict], bench: str, **match) -> dict | None:
    return next((r for r in records if r["bench"] == bench and all(r.get(k) == v for k, v in match.items())), None)


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def targets(records: list[dict]) -> list[str]:
    """The issue's targets, checked against whatever was measured."""
    lines = []
    overhead_targets = (("default", "the default config", 0.95), ("tiny_mlp", "a tiny MLP (2 × 32, batch 128)", None))
    for config, what, target in overhead_targets:
        if r := first(records, "overhead", config=config):
            goal = f"(target ≥ {target}): {verdict(r['ratio'] >= target)}" if target else "(no target)"
            lines.append(f"- Framework overhead at {what}: Lightning/bare = {r['ratio']} {goal}")
    for bench, what in (("scaling_T", "T"), ("scaling_data", "training-set size")):
        rows = [r for r in records if r["bench"] == bench]
        if rows:
            step, memory = rows[-1]["step_vs_first"], rows[-1]["memory_vs_first"]
            lines.append(f"- Scaling in {what}, smallest to largest: step time ×{step}, peak memory ×{memory} "
                         f"(target ≤ 1.3): {verdict(max(step, memory) <= 1.3)}")
    if r := first(records, "heartbeat"):
        lines.append(f"- Heartbeat (T = {r['T']}): our step is {r['speedup']}× faster than evaluating all T "
                     f"(target ≥ 500): {verdict(r['speedup'] >= 500)}")
    if (r := first(records, "points_file", what="module_csv")) and r["rows"] >= 10**6:
        lines.append(f"- Your own points: {r['rows']} rows × 2 read from CSV and standardised in {r['wall_s']} s "
                     f"(target: seconds, < 10 s): {verdict(r['wall_s'] < 10)}")
    if r := first(records, "quality", run="swiss_roll_10k"):
        lines.append(f"- The user's Swiss roll experiment (10^4 points, T = {r['T']}) within 0.1 bits of its final "
                     f"bound after {r['train_s_to_quality']} s of training (target < 120 s): "
                     f"{verdict(r['train_s_to_quality'] < 120)}")
    return lines


def write(path: Path, earlier: list[dict], records: list[dict], run: dict, descriptions: dict[str, str]) -> None:
    """Write the report for ``records`` (from ``run``), keeping the sections of the ``earlier`` records (``read_raw``
    of the report before the run) of benchmarks not run now; written whole, so an interrupted write keeps them."""
    kept = [r for r in earlier if r["bench"] not in run["benchmarks"]
            and not (r["bench"] == "_run" and set(r["benchmarks"]) <= set(run["benchmarks"]))]
    records = kept + [{"bench": "_run", **run}] + records
    runs = [r for r in records if r["bench"] == "_run"]
    machine = run["machine"]
    lines = ["# Benchmarks", "",
             ("Generated by `python -m diffusion_lightning.bench` (see `diffusion_lightning/bench/`); each figure is "
              "a median over repeats measured side by side in one process, unless its section says."), "",
             (f"Machine (of the last run; each run's torch and OpenMP wait policy are in its row below): "
              f"{machine['cpu']}, {machine['cores']} cores ({machine['torch_threads']} torch threads), "
              f"torch {machine['torch']}, lightning {machine['lightning']}, Python {machine['python']}, "
              f"OMP_WAIT_POLICY={machine.get('omp_wait_policy') or 'unset (OpenMP default)'}."), "",
             "## Runs", "", ("| benchmarks | command | date | load average (1, 5, 15 min) at start | at end | torch | "
                             "OMP_WAIT_POLICY |"), "|---|---|---|---|---|---|---|"]
    lines += [f"| {', '.join(r['benchmarks'])} | `{r['command']}` | {r['date']} | {cell(r['load_start'])} | "
              f"{cell(r['load_end'])} | {r['machine']['torch']} | {r['machine'].get('omp_wait_policy') or 'unset'} |"
              for r in runs]
    lines += ["", "## Targets", "", *(targets(records) or ["No target measured yet."])]
    for name, description in descriptions.items():
        rows = [r for r in records if r["bench"] == name]
        if rows:
            lines += ["", f"## {name}", "", description, "", *table(rows)]
    lines += ["", "## Raw results", "", "```jsonl", *(json.dumps(r) for r in records), "```", ""]
    with written_whole(path) as tmp:
        tmp.write_text("\n".join(lines))
