"""The user's heartbeat files (issue 14, point 3): `python train.py data=heartbeat data.train_file=train.txt
data.val_file=val.txt` trains with settings that suit file data, chosen by the defaults list (visible and
overridable), and experiment=heartbeat_files is the same run."""

import json

import pytest
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


@pytest.mark.slow
def test_the_users_files_in_full(make_cfg, tmp_path, files):
    """≥ 95% valid samples, and the two phases training never showed generated at about their share, 2/32."""
    run(make_cfg("data=heartbeat", *files, "logger=none"))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["step"] == 3000
    assert s["samples/valid_fraction"] >= 0.95
    assert abs(s["samples/val_fraction"] - 2 / 32) < 0.03
