"""Two runs compared point by point on their shared test split: ``python -m diffusion_lightning.sweeps.report.paired``."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from diffusion_lightning.sweeps.report.paired import compare
from diffusion_lightning.training.run import run

from .conftest import ROOT


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four 20-step runs: linear and cosine β with seed 0 (same test points), linear with another draw of the bound's
    x_t, and linear with seed 1 (other test points)."""
    out = {}
    for name, overrides in {"linear": ["schedule=linear"], "cosine": ["schedule=cosine"],
                            "redrawn": ["schedule=linear", "eval_seed=7"],
                            "seed1": ["schedule=linear", "seed=1"]}.items():
        path = tmp_path_factory.mktemp(name)
        with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
            run(compose("train", overrides=[f"paths.output_dir={path}", "debug=fast", "T=20", "logger=none",
                                            "callbacks.figures=null", *overrides]))
        out[name] = path
    return out


def paired_cli(*args):
    return subprocess.run([sys.executable, "-m", "diffusion_lightning.sweeps.report.paired", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_each_point_is_kept_and_averages_to_the_logged_bound(runs):
    for path in runs.values():
        summary = json.loads((path / "summary.json").read_text())
        with np.load(path / "bound_per_point.npz") as saved:
            bits = saved["bits"]
        assert len(bits) == 256 and np.isfinite(bits).all()  # debug=fast's test split
        assert bits.mean() == pytest.approx(summary["test/nll_bound_bits"], rel=1e-6)  # logged as float32


def test_the_paired_difference_is_over_the_same_points(runs):
    result = compare(runs["linear"], runs["cosine"])
    summaries = [json.loads((runs[k] / "summary.json").read_text()) for k in ("linear", "cosine")]
    assert result["n"] == 256
    assert result["difference"] == pytest.approx(
        summaries[1]["test/nll_bound_bits"] - summaries[0]["test/nll_bound_bits"], abs=2e-4)  # float32 logs
    assert 0 < result["se"] and 1.96 < result["ci95"] / result["se"] < 1.98  # Student t, 255 degrees of freedom
    done = paired_cli(runs["linear"], runs["cosine"])
    assert done.returncode == 0, done.stderr
    assert "B − A, paired:" in done.stdout and f"{result['difference']:+.4f}" in done.stdout


def test_another_evaluation_seed_redraws_the_bound_on_the_same_points(runs):
    """Same network and test points (the training does not depend on eval_seed), other x_t: a second draw."""
    result = compare(runs["linear"], runs["redrawn"])
    assert result["n"] == 256 and result["se"] > 0
    assert abs(result["difference"]) < 4 * result["se"] + 1e-9


def test_runs_on_different_points_or_without_the_file_are_refused_in_one_line(runs, tmp_path):
    done = paired_cli(runs["linear"], runs["seed1"])
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "tested on different points" in done.stderr
    done = paired_cli(runs["linear"], tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "has no bound_per_point.npz" in done.stderr
    (tmp_path / "bound_per_point.npz").write_bytes(b"not a numpy archive")
    done = paired_cli(runs["linear"], tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "cannot be read" in done.stderr
