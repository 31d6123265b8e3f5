"""Several optimizer steps per ``training_step`` call (``steps_per_batch``): the same training, logged on the axis
of optimizer steps."""

import csv
import json

import pytest
import torch

from diffusion_lightning.training.stepping import steps_per_call
from diffusion_lightning.training.run import build, run

STEPS = ["debug=fast", "T=20", "trainer.max_steps=25", "trainer.val_check_interval=10", "trainer.log_every_n_steps=5",
         "callbacks.figures=null", "callbacks.sample_metrics=null", "callbacks.last_checkpoint.every_n_train_steps=10"]


def test_steps_per_batch_is_lowered_to_divide_every_interval(make_cfg):
    assert steps_per_call(make_cfg(*STEPS, "steps_per_batch=10")) == 5
    assert steps_per_call(make_cfg(*STEPS, "steps_per_batch=3")) == 1
    assert steps_per_call(make_cfg(*STEPS, "steps_per_batch=10", "trainer.max_steps=23")) == 1
    assert steps_per_call(make_cfg()) == 10  # the default run: validation every 5000, logs every 50


@pytest.mark.parametrize("data", ["swiss_roll", "heartbeat"])
def test_training_does_not_depend_on_steps_per_batch(make_cfg, tmp_path, data):
    """Weights, EMA, optimizer state and logged curves match step for step."""
    results = {}
    for k in (1, 5):
        cfg = make_cfg(*STEPS, f"data={data}", "logger=none", f"steps_per_batch={k}", f"paths.output_dir={tmp_path / str(k)}")
        datamodule, module, trainer = build(cfg)
        trainer.fit(module, datamodule=datamodule)
        results[k] = trainer.global_step, module.state_dict(), module.history, trainer.optimizers[0].state_dict()
    (step1, weights1, history1, opt1), (step5, weights5, history5, opt5) = results[1], results[5]
    assert step1 == step5 == 25
    assert weights1.keys() == weights5.keys() and all(torch.equal(weights1[k], weights5[k]) for k in weights1)
    assert history1 == history5 and [h["step"] for h in history1] == [0, 5, 10, 15, 20]
    assert all(torch.equal(a["exp_avg"], b["exp_avg"]) for a, b in zip(opt1["state"].values(), opt5["state"].values()))


def test_loggers_see_optimizer_steps(make_cfg, tmp_path):
    run(make_cfg(*STEPS, "logger=csv", "steps_per_batch=5", "trainer.max_steps=20"))
    rows = list(csv.DictReader(next(tmp_path.rglob("metrics.csv")).read_text().splitlines()))
    train = [int(r["step"]) for r in rows if r.get("train/loss")]
    val = [int(r["step"]) for r in rows if r.get("val/nll_bound_bits")]
    assert train == [0, 5, 10, 15] and val == [10, 20]
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == 20


def test_a_run_shorter_than_a_validation_interval_ends_validated(make_cfg, tmp_path):
    """max_steps=15 with validation every 10: validated at 10 and at the last step, with best.ckpt, and the task
    returns the validation bound (an HPO sweeper's objective); a run ending on an interval validates once there."""
    cfg = make_cfg(*STEPS, "logger=none", "trainer.max_steps=15", "trainer.val_check_interval=10")
    assert run(cfg) == json.loads((tmp_path / "summary.json").read_text())["val/nll_bound_bits"]
    assert [v["step"] for v in json.loads((tmp_path / "curves.json").read_text())["val"]] == [10, 15]
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    run(make_cfg(*STEPS, "logger=none", "trainer.max_steps=20", f"paths.output_dir={tmp_path / 'even'}"))
    assert [v["step"] for v in json.loads((tmp_path / "even" / "curves.json").read_text())["val"]] == [10, 20]
