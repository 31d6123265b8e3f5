"""Interruption and resume: Ctrl-C leaves last.ckpt, and resuming from it ends where an uninterrupted run ends."""

import json
import math
import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from diffusion_lightning.errors import ConfigError
from diffusion_lightning.training.stepping import StepsPerCall
from diffusion_lightning.training.run import build, run

STEPS = ["debug=fast", "T=20", "logger=none", "trainer.max_steps=30", "trainer.val_check_interval=10",
         "callbacks.figures=null", "callbacks.sample_metrics=null", "callbacks.last_checkpoint.every_n_train_steps=10"]


def ctrl_c_after_step(module, step: int) -> None:
    """Ctrl-C (a real SIGINT to this process) right after optimizer step ``step``, inside a training_step call."""
    update_ema = module._update_ema

    def update_then_ctrl_c():
        update_ema()
        if module.global_step == step:
            os.kill(os.getpid(), signal.SIGINT)

    module._update_ema = update_then_ctrl_c


class CtrlCAt(L.Callback):
    """Ctrl-C (a real SIGINT to this process) before the training_step call that starts at ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)




@pytest.mark.parametrize("data", ["swiss_roll", "heartbeat"])
def test_resume_after_ctrl_c_matches_an_uninterrupted_run(make_cfg, tmp_path, data):
    cfg = make_cfg(*STEPS, f"data={data}")
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.append(CtrlCAt(15))
    with pytest.raises(SystemExit):
        trainer.fit(module, datamodule=datamodule)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=False)["global_step"] == 20  # the end of the call that was running

    resumed_dir, plain_dir = tmp_path / "resumed", tmp_path / "plain"
    run(make_cfg(*STEPS, f"data={data}", f"ckpt_path={ckpt}", f"paths.output_dir={resumed_dir}"))
    run(make_cfg(*STEPS, f"data={data}", f"paths.output_dir={plain_dir}"))
    resumed = json.loads((resumed_dir / "summary.json").read_text())
    plain = json.loads((plain_dir / "summary.json").read_text())
    assert resumed["step"] == plain["step"] == 30
    assert resumed["test/nll_bound_bits"] == pytest.approx(plain["test/nll_bound_bits"], abs=1e-4)
    curves = [json.loads((d / "curves.json").read_text()) for d in (resumed_dir, plain_dir)]
    assert [v["step"] for v in curves[0]["val"]] == [v["step"] for v in curves[1]["val"]] == [10, 20, 30]
    a = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in b)


def test_ctrl_c_between_two_steps_of_a_call_stops_at_its_end(make_cfg, tmp_path):
    """With 5 steps per call, Ctrl-C after step 13 saves and stops at 15; the resumed run validates and
    checkpoints at the same steps as an uninterrupted one, and ends with the same weights."""
    cfg = make_cfg(*STEPS)
    datamodule, module, trainer = build(cfg)
    assert next(c for c in trainer.callbacks if isinstance(c, StepsPerCall)).steps == 5
    ctrl_c_after_step(module, 13)
    with pytest.raises(SystemExit):
        trainer.fit(module, datamodule=datamodule)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=False)["global_step"] == 15

    resumed_dir, plain_dir = tmp_path / "resumed", tmp_path / "plain"
    run(make_cfg(*STEPS, f"ckpt_path={ckpt}", f"paths.output_dir={resumed_dir}"))
    run(make_cfg(*STEPS, f"paths.output_dir={plain_dir}"))
    curves = [json.loads((d / "curves.json").read_text()) for d in (resumed_dir, plain_dir)]
    assert [v["step"] for v in curves[0]["val"]] == [v["step"] for v in curves[1]["val"]] == [10, 20, 30]
    assert curves[0]["train"] == curves[1]["train"]
    a = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert a["global_step"] == b["global_step"] == 30
    assert all(torch.allclose(a["state_dict"][k], b["state_dict"][k], atol=1e-6) for k in b["state_dict"])


def test_a_checkpoint_from_another_steps_per_batch_is_refused(make_cfg, tmp_path):
    cfg = make_cfg(*STEPS, "trainer.max_steps=10")
    run(cfg)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(ValueError, match="written with 5 optimizer steps per training_step and this run takes 1"):
        run(make_cfg(*STEPS, "steps_per_batch=1", f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'again'}"))


def test_a_checkpoint_without_steps_per_batch_loads_for_its_weights_and_is_refused_for_resume(make_cfg, tmp_path):
    """A checkpoint written before ``steps_per_batch`` existed: evaluation (``trainer.test(ckpt_path=)``) loads its
    weights; resuming training from it is refused in one line that says why."""
    run(make_cfg(*STEPS, "trainer.max_steps=10"))
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    del saved["steps_per_batch"]  # as written before steps_per_batch existed
    old = tmp_path / "old.ckpt"
    torch.save(saved, old)

    datamodule, module, trainer = build(make_cfg(*STEPS, f"paths.output_dir={tmp_path / 'test'}"))
    assert any(not torch.equal(v, saved["state_dict"][k]) for k, v in module.state_dict().items())  # fresh weights
    trainer.test(module, datamodule=datamodule, ckpt_path=str(old), verbose=False)
    loaded = module.state_dict()
    assert loaded.keys() == saved["state_dict"].keys()
    assert all(torch.equal(loaded[k], saved["state_dict"][k]) for k in loaded)
    assert math.isfinite(trainer.callback_metrics["test/nll_bound_bits"])

    with pytest.raises(ConfigError, match="took one optimizer step per training_step; its step count cannot be"):
        run(make_cfg(*STEPS, f"ckpt_path={old}", f"paths.output_dir={tmp_path / 'resumed'}"))


def test_ctrl_c_in_the_last_call_still_stops_with_a_checkpoint(make_cfg, tmp_path):
    datamodule, module, trainer = build(make_cfg(*STEPS))
    ctrl_c_after_step(module, 27)
    with pytest.raises(SystemExit):
        trainer.fit(module, datamodule=datamodule)
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 30


OLD = ["debug=fast", "T=20", "logger=none", "model.hidden=16", "model.emb_dim=8", "lr_scheduler=none",
       "trainer.max_steps=20", "callbacks.figures=null", "callbacks.sample_metrics=null"]


def test_a_checkpoint_written_before_the_package_was_layered_resumes_exactly(make_cfg, tmp_path):
    """``tests/data/main_e9abe86_step10.ckpt`` is the ``last.ckpt`` at step 10 of ``python train.py <OLD with
    trainer.max_steps=10>``, written by an earlier release (the modules then at the package root); resumed here to
    step 20 it ends where a fresh 20-step run of today's code ends, up to what today's losses change in its first ten
    steps (the decoder's learned variance at t = 1, the sampler's history in units of T·L_{t−1}): 1421.4426 against
    1421.3838 bits, 4e-5 of the bound; the same resume was exact while the math was the same."""
    ckpt = Path(__file__).parent / "data" / "main_e9abe86_step10.ckpt"
    run(make_cfg(*OLD, f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'resumed'}"))
    run(make_cfg(*OLD, f"paths.output_dir={tmp_path / 'plain'}"))
    resumed, plain = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("resumed", "plain"))
    assert resumed["step"] == plain["step"] == 20
    assert resumed["test/nll_bound_bits"] == pytest.approx(plain["test/nll_bound_bits"], rel=1e-4)
