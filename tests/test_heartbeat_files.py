"""The user's heartbeat files (issue 14, point 3): `python train.py data=heartbeat data.train_file=train.txt
data.val_file=val.txt` trains with settings that suit file data, chosen by the defaults list (visible and
overridable), and experiment=heartbeat_files is the same run."""

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from diffusion_lightning.training.run import build, run

QUICK = ("logger=none", "callbacks.figures=null", "trainer.max_steps=20", "trainer.val_check_interval=10",
         "callbacks.sample_metrics.n_samples=20")


@pytest.fixture
def files(tmp_path):
    """The user's format: length 64, period 32, 30 training phases and the 2 others for validation."""
    rows = ["".join("1" if i % 32 == phase else "0" for i in range(64)) for phase in range(32)]
    (tmp_path / "train.txt").write_text("\n".join(rows[:30]) + "\n")
    (tmp_path / "val.txt").write_text("\n".join(rows[30:]) + "\n")
    return f"data.train_file={tmp_path / 'train.txt'}", f"data.val_file={tmp_path / 'val.txt'}"


def test_heartbeat_data_brings_its_network_and_recipe(make_cfg, files):
    cfg = make_cfg("data=heartbeat", *files)
    assert cfg.model._target_.endswith("TimeConv1d") and cfg.model.channels == 16
    assert cfg.trainer.max_steps == 3000 and cfg.callbacks.sample_metrics.val_samples == 200
    assert OmegaConf.to_container(make_cfg("experiment=heartbeat_files", *files)) == OmegaConf.to_container(cfg)
    # the command line wins, and ~experiment drops the recipe; the Swiss roll's defaults are unchanged
    assert make_cfg("data=heartbeat", "model=mlp").model._target_.endswith("TimeMLP")
    assert make_cfg("data=heartbeat", "~experiment").trainer.max_steps == 20000
    assert make_cfg().model._target_.endswith("TimeMLP") and make_cfg().trainer.max_steps == 20000
    assert make_cfg("experiment=heartbeat_paper").model._target_.endswith("TimeMLP")


def test_a_file_of_30_lines_trains_and_its_period_is_its_own(make_cfg, tmp_path, files):
    cfg = make_cfg("data=heartbeat", *files, *QUICK, "callbacks.sample_metrics.val_samples=0")
    datamodule, _, _ = build(cfg)
    datamodule.setup("fit")
    assert (cfg.data.period, datamodule.period, datamodule.shape) == (5, 32, (64,))  # the file's, not the config's
    run(cfg)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "finished" and s["step"] == 20
    assert 0 <= s["samples/valid_fraction"] <= 1  # scored against period 32
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert curves["val"] and not any(k.startswith("samples/") for v in curves["val"] for k in v)  # val_samples=0


def test_a_single_file_holds_out_its_validation_and_test_lines(make_cfg, tmp_path):
    """With data.train_file alone, validation and test lines are held out of the file by seeded shares (recorded in
    run_info.json), and the test bound is over lines that training never saw; the split is the same for any run seed,
    so that runs pair point by point."""
    rows = torch.randint(2, (60, 24), generator=torch.Generator().manual_seed(0))
    lines = sorted({"".join(map(str, row.tolist())) for row in rows})  # 60 distinct lines (of 2^24)
    assert len(lines) == 60
    (tmp_path / "one.txt").write_text("\n".join(lines) + "\n")
    cfg = make_cfg("data=heartbeat", f"data.train_file={tmp_path / 'one.txt'}", *QUICK,
                   "callbacks.sample_metrics.val_samples=0")
    datamodule, _, _ = build(cfg)
    split = {s: ["".join(str(int(b)) for b in row) for row in x] for s, x in datamodule.splits.items()}
    assert not set(split["test"]) & set(split["train"]) and not set(split["val"]) & set(split["train"])
    assert {s: len(v) for s, v in split.items()} == {"train": 48, "val": 6, "test": 6}
    assert not set(split["test"]) & set(split["val"]) and sorted(sum(split.values(), [])) == lines
    other, _, _ = build(make_cfg("data=heartbeat", f"data.train_file={tmp_path / 'one.txt'}", "seed=1"))
    assert other.splits["test"].equal(datamodule.splits["test"])
    run(cfg)
    info = json.loads((tmp_path / "run_info.json").read_text())["data"]
    assert info["held_out_fractions"] == {"val": 0.1, "test": 0.1} and info["split_seed"] == 0
    assert info["rows"] == {"train": 48, "val": 6, "test": 6}
    assert len(np.load(tmp_path / "bound_per_point.npz")["bits"]) == 6


def test_a_validation_file_alone_still_holds_the_test_lines_out_of_training(make_cfg, files):
    """The user's two files: the validation file is read, and the test lines are held out of the training file."""
    datamodule, _, _ = build(make_cfg("data=heartbeat", *files))
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [27, 2, 3]
    train = {tuple(row.tolist()) for row in datamodule.splits["train"]}
    assert not train & {tuple(row.tolist()) for row in datamodule.splits["test"]}


@pytest.mark.slow
def test_the_users_files_in_full(make_cfg, tmp_path, files):
    """≥ 95% valid samples, and the two phases training never showed generated at about their share, 2/32."""
    run(make_cfg("data=heartbeat", *files, "logger=none"))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["step"] == 3000
    assert s["samples/valid_fraction"] >= 0.95
    assert abs(s["samples/val_fraction"] - 2 / 32) < 0.03
