"""`python train.py` as a user runs it, in a subprocess."""

import json

from .conftest import TINY


def test_single_run_writes_its_directory(cli, tmp_path):
    result = cli("debug=fast", "T=20", "logger=wandb")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "wandb").glob("offline-run-*")), "W&B should log offline into the run directory"


def test_grid_sweep_makes_one_directory_per_job(tiny_sweep):
    """``python train.py -m ... schedule=linear,cosine loss=kl,mse`` (the shared tiny sweep, run in a subprocess):
    one directory per job, numbered in Hydra's order (the last key varies fastest), named by its sorted overrides."""
    jobs = [("linear", "kl"), ("linear", "mse"), ("cosine", "kl"), ("cosine", "mse")]
    expected = [f"{num}_" + ",".join(sorted([*TINY, "logger=wandb", f"loss={loss}", f"schedule={schedule}"]))
                for num, (schedule, loss) in enumerate(jobs)]
    assert sorted((p.name for p in tiny_sweep.iterdir() if p.is_dir()), key=lambda n: int(n.split("_")[0])) == expected
    for name in expected:
        assert json.loads((tiny_sweep / name / "summary.json").read_text())["status"] == "finished"
