"""`python train.py` as a user runs it, in a subprocess."""

import json


def test_single_run_writes_its_directory(cli, tmp_path):
    result = cli("debug=fast", "T=20", "logger=wandb")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "wandb").glob("offline-run-*")), "W&B should log offline into the run directory"


def test_grid_sweep_makes_one_directory_per_job(cli, tmp_path):
    result = cli("-m", "debug=fast", "T=10", "schedule=linear,cosine", "loss=kl,mse")
    assert result.returncode == 0, result.stderr[-2000:]
    summaries = sorted((tmp_path / "sweep").glob("*/summary.json"))
    assert len(summaries) == 4
    assert all(json.loads(p.read_text())["status"] == "finished" for p in summaries)
    names = {p.parent.name for p in summaries}
    assert "0_loss=kl,schedule=linear" in names or any("schedule=linear" in n for n in names)
