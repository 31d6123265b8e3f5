"""`python -m diffusion_lightning.report` over hand-made sweep directories: ranking, failed and missing jobs,
the files written, and errors (the real sweeps it reads are in test_sweeps.py)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import yaml

from diffusion_lightning.report import Report, main

ROOT = Path(__file__).resolve().parents[1]
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def make_job(sweep, num, overrides, summary=None, figures=True):
    """A job directory as train.py leaves it: overrides, summary, curves and (tiny) figures."""
    job = sweep / f"{num}_{','.join(overrides)}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["debug=fast", *overrides]))
    if summary is not None:
        (job / "summary.json").write_text(json.dumps(summary))
        bits = summary.get("val/nll_bound_bits", 5.0)
        curves = {"train": [{"step": s, "train/bound_bits": bits + 10 / (s + 1), "train/loss": 1.0} for s in range(50)],
                  "val": [{"step": 25, "val/nll_bound_bits": bits + 1}, {"step": 50, "val/nll_bound_bits": bits}]}
        (job / "curves.json").write_text(json.dumps(curves))
    if figures and summary and summary["status"] == "finished":
        (job / "figures").mkdir()
        for name, size in (("samples", (3, 3)), ("forward_process", (12, 2)), ("reverse_process", (12, 2))):
            fig = plt.figure(figsize=size)
            fig.savefig(job / "figures" / f"{name}.png", dpi=20)
            plt.close(fig)
    return job


@pytest.fixture
def sweep(tmp_path):
    """Of a 3 × 2 grid (lr × schedule, as multirun.yaml says): two jobs finished, one failed, one left no summary,
    and two (lr=100) never started."""
    sweep = tmp_path / "grid_2026-01-01_00-00-00_000000"
    sweep.mkdir()
    finished = {"status": "finished", "step": 50, "wall_time_s": 3.0, "true_nll_bits": 1.9}
    make_job(sweep, 0, ["lr=0.1", "schedule=linear"], {**finished, "test/nll_bound_bits": 4.0,
                                                       "test/nll_bound_se_bits": 0.1, "val/nll_bound_bits": 4.1})
    make_job(sweep, 1, ["lr=0.1", "schedule=cosine"], {**finished, "test/nll_bound_bits": 3.0,
                                                       "val/nll_bound_bits": 3.2, "samples/energy_distance": 0.5})
    make_job(sweep, 2, ["lr=10", "schedule=linear"], {"status": "failed", "step": 3,
                                                      "error": "DivergenceError: non-finite loss at step 3"})
    make_job(sweep, 3, ["lr=10", "schedule=cosine"])
    hydra = {"sweeper": {"_target_": BASIC_SWEEPER, "params": {"lr": "0.1,10,100"}},
             "overrides": {"task": ["debug=fast", "schedule=linear,cosine"]}}
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra}))
    return sweep


def test_jobs_are_ranked_best_first_with_failed_and_missing_last(sweep):
    report = Report.of(sweep)
    assert report.metric == "test/nll_bound_bits"
    assert [(job.num, job.status) for job in report.jobs][:4] == [(1, "finished"), (0, "finished"), (2, "failed"),
                                                                  (3, "missing")]
    assert [(job.num, job.status, job.path) for job in report.jobs[4:]] == [(4, "missing", None), (5, "missing", None)]
    assert report.jobs[5].overrides == ["lr=100", "debug=fast", "schedule=cosine"]
    assert report.common == ["debug=fast"] and report.keys == ["lr", "schedule"]
    assert "never started" in report.jobs[-1].note and "no summary.json" in report.jobs[3].note


def test_report_files_and_stdout(sweep, capsys):
    assert main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 1 | finished |" in out and "3 ± 0.1" not in out and "4 ± 0.1" in out
    assert "DivergenceError: non-finite loss at step 3" in out
    for name in ("report.md", "report.csv", "report.html", "curves.png", "samples_grid.png", "forward_grid.png",
                 "reverse_grid.png"):
        assert (sweep / name).is_file(), name
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    assert [r["status"] for r in rows[:4]] == ["finished", "finished", "failed", "missing"]
    assert rows[0]["schedule"] == "cosine" and float(rows[0]["test/nll_bound_bits"]) == 3.0
    page = (sweep / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and 'src="http' not in page
    assert '<tr class="failed">' in page and '<tr class="missing">' in page


def test_sorting_by_another_metric_and_writing_elsewhere(sweep, tmp_path):
    assert main([str(sweep), "--metric", "val/nll_bound_bits", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").is_file() and not (sweep / "report.html").exists()
    table = (tmp_path / "out" / "report.md").read_text()
    assert table.index("| 1 | 1 |") < table.index("| 2 | 0 |")


def test_falls_back_to_the_validation_bound(tmp_path):
    make_job(tmp_path, 0, ["T=10"], {"status": "finished", "val/nll_bound_bits": 5.0})
    make_job(tmp_path, 1, ["T=20"], {"status": "interrupted", "val/nll_bound_bits": 4.0})
    report = Report.of(tmp_path)
    assert report.metric == "val/nll_bound_bits"
    assert [job.status for job in report.jobs] == ["finished", "interrupted"]


def test_a_job_without_figures_gets_an_empty_panel(tmp_path):
    make_job(tmp_path, 0, ["T=10"], {"status": "finished", "test/nll_bound_bits": 5.0}, figures=False)
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "samples_grid.png").is_file()


@pytest.mark.parametrize("target", ["missing", "empty"])
def test_a_bad_path_is_one_line_and_a_non_zero_exit(tmp_path, target):
    path = tmp_path / "nothing" if target == "missing" else tmp_path
    result = subprocess.run([sys.executable, "-m", "diffusion_lightning.report", str(path)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
