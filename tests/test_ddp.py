"""Data parallelism on CPU (gloo), as a user runs it: `trainer=ddp trainer.devices=2`."""

import json
import math

FAST = ["debug=fast", "T=10", "logger=csv", "trainer=ddp", "trainer.devices=2", "callbacks.figures=null"]


def test_ddp_trains_and_writes_one_summary(cli, tmp_path):
    result = cli(*FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == 20 and math.isfinite(summary["test/nll_bound_bits"])
    assert len(list(tmp_path.rglob("summary.json"))) == 1
    assert len(list(tmp_path.rglob("metrics.csv"))) == 1  # logged once, by rank 0


def test_ddp_inside_a_sweep_runs_each_job_once(cli, tmp_path):
    result = cli("-m", *FAST, "seed=0,1", "hydra/launcher=basic")
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = sorted((tmp_path / "sweep").glob("*/summary.json"))
    jobs = [json.loads(p.read_text()) for p in summaries]
    assert [job["status"] for job in jobs] == ["finished", "finished"]
    assert all(map(math.isfinite, (job["test/nll_bound_bits"] for job in jobs)))
    assert jobs[0]["test/nll_bound_bits"] != jobs[1]["test/nll_bound_bits"]  # each job trained with its own seed
    # the second rank re-runs its own job in the job's directory, never the sweep into a new one
    assert len(list(tmp_path.rglob("summary.json"))) == 2
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun_outputs").exists()


def test_ddp_in_a_parallel_sweep_is_refused_in_one_line(cli, tmp_path):
    result = cli("-m", *FAST, "seed=0,1")
    assert result.returncode == 1
    assert "error: trainer=ddp in a -m sweep needs hydra/launcher=basic (got joblib)" in result.stderr
    jobs = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/summary.json"))]
    assert [job["status"] for job in jobs] == ["failed", "failed"] and "hydra/launcher=basic" in jobs[0]["error"]
