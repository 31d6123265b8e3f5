"""`python -m diffusion_lightning.bench --quick`: every benchmark runs at a tiny size, prints well-formed JSON lines
with its keys, and writes the report. Speed is never asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diffusion_lightning.training import environment
from diffusion_lightning.bench import report
from diffusion_lightning.bench.__main__ import BENCHMARKS, main

KEYS = {
    "overhead": {"config", "lightning_steps_per_s", "bare_steps_per_s", "ratio"},
    "threads": {"runs", "omp_wait_policy", "policy_used", "torch_threads", "bare_steps_per_s", "per_run"},
    "scaling_T": {"T", "step_ms", "peak_rss_mb", "fit_peak_growth_mb", "step_vs_first", "memory_vs_first"},
    "scaling_data": {"n_train", "step_ms", "peak_rss_mb", "fit_peak_growth_mb", "step_vs_first", "memory_vs_first"},
    "heartbeat": {"T", "step_ms", "all_T_step_s", "speedup"},
    "bound": {"data", "T", "points", "wall_s", "rows_per_s", "net_gflops", "matmul_gflops"},
    "sampling": {"T", "samples", "wall_s"},
    "loaded_run": {"what", "T", "points", "wall_s", "points_steps_per_s"},
    "points_file": {"what", "rows", "csv_mb", "wall_s", "rows_per_s"},
    "quality": {"run", "final_bound_bits", "train_s_to_quality", "steps_to_quality"},
    "job": {"T", "wall_s", "startup_s", "build_s", "logger_start_s", "train_steps_s", "loop_s", "val_bound_s",
            "val_samples_s", "test_bound_s", "test_samples_s", "figures_s", "writing_s", "finish_s", "whole_over_train"},
}
NVML_KEYS = {"config", "bare_steps_per_s_check_on", "bare_steps_per_s_now", "speedup"}


def run(capsys, *args: str) -> list[dict]:
    main([*args, "--quick"])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_every_benchmark_runs_and_reports(tmp_path, capsys):
    report = tmp_path / "BENCHMARKS.md"
    records = run(capsys, "all", "--out", str(report))
    assert {r["bench"] for r in records} == set(BENCHMARKS) == set(KEYS)
    for record in records:
        keys = NVML_KEYS if record.get("config") == "nvml_check" else KEYS[record["bench"]]
        assert not keys - record.keys(), f"{record} lacks {keys - record.keys()}"
        assert len(record["load"]) == 3
    assert [r["config"] for r in records if r["bench"] == "overhead"] == ["default", "tiny_mlp", "nvml_check"]
    text = report.read_text()
    for name in BENCHMARKS:
        assert f"## {name}" in text
    assert "## Targets" in text and "torch" in text

    # A single benchmark replaces its own section and keeps the others.
    again = run(capsys, "sampling", "--out", str(report))
    assert [r["bench"] for r in again] == ["sampling"]
    text = report.read_text()
    assert all(f"## {name}" in text for name in BENCHMARKS)
    assert text.count('"bench": "sampling"') == 1


@pytest.mark.parametrize("loads", [True, False])
def test_nvml_check_stays_on_only_where_nvml_loads(monkeypatch, loads):
    monkeypatch.setenv(environment.NVML_CHECK, "1")  # as `import lightning` sets it
    monkeypatch.setattr(environment, "nvml_loads", lambda: loads)
    environment.configure()
    assert os.environ[environment.NVML_CHECK] == ("1" if loads else "0")


def test_nvml_check_after_configure_in_a_fresh_process():
    """On this host, in a process where ``configure`` is the first to load Lightning (as in ``train.py``)."""
    code = ("import os; from diffusion_lightning.training import environment; environment.configure(); "
            "print(os.environ[environment.NVML_CHECK])")
    env = {k: v for k, v in os.environ.items() if k != environment.NVML_CHECK}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == ("1" if environment.nvml_loads() else "0")


def test_a_report_whose_earlier_results_cannot_be_read_stops_the_run_before_it_starts(tmp_path, capsys):
    """BENCHMARKS.md is the store of earlier results: one that cannot be read is named with its line, not
    overwritten (and no benchmark runs)."""
    report = tmp_path / "BENCHMARKS.md"
    text = '# Benchmarks\n\n## Raw results\n\n```jsonl\n{"bench": "sampling", "T": 10}\n{"bench": "sampl\n```\n'
    report.write_text(text)
    with pytest.raises(SystemExit) as stop:
        main(["sampling", "--quick", "--out", str(report)])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.count("\n") == 1 and err.startswith(f"error: {report}, line 7: not a JSON ")
    assert report.read_text() == text


def test_an_interrupted_report_keeps_the_earlier_one(tmp_path, monkeypatch):
    report_path = tmp_path / "BENCHMARKS.md"
    report_path.write_text("earlier")
    run_record = {"benchmarks": ["sampling"], "command": "", "date": "", "load_start": [0, 0, 0], "load_end": [0, 0, 0],
                  "machine": {"cpu": "", "cores": 1, "torch_threads": 1, "torch": "", "lightning": "", "python": ""}}

    def killed(self, text, *args, **kwargs):
        Path.write_bytes(self, text[: len(text) // 2].encode())
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        report.write(report_path, [], [{"bench": "sampling", "T": 10}], run_record, {"sampling": ""})
    monkeypatch.undo()
    assert report_path.read_text() == "earlier" and [p.name for p in tmp_path.iterdir()] == ["BENCHMARKS.md"]
