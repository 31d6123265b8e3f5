"""Data parallelism on CPU (gloo), as a user runs it: `trainer=ddp trainer.devices=2`."""

import json

FAST = ["debug=fast", "T=10", "logger=csv", "trainer=ddp", "trainer.devices=2", "callbacks.figures=null"]


def test_ddp_trains_and_writes_one_summary(cli, tmp_path):
    result = cli(*FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == 20 and "test/nll_bound_bits" in summary
    assert len(list(tmp_path.rglob("summary.json"))) == 1
    assert len(list(tmp_path.rglob("metrics.csv"))) == 1  # logged once, by rank 0


def test_ddp_inside_a_sweep_runs_each_job_once(cli, tmp_path):
    result = cli("-m", *FAST, "seed=0,1")
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = sorted((tmp_path / "sweep").glob("*/summary.json"))
    assert [json.loads(p.read_text())["status"] for p in summaries] == ["finished", "finished"]
    # the second rank re-runs its own job in the job's directory, never the sweep into a new one
    assert len(list(tmp_path.rglob("summary.json"))) == 2
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun_outputs").exists()
