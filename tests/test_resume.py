"""Interruption and resume: Ctrl-C leaves last.ckpt, and resuming from it ends where an uninterrupted run ends."""

import json

import lightning as L
import pytest
import torch

from diffusion_lightning.train import build, run

STEPS = ["debug=fast", "T=20", "logger=none", "trainer.max_steps=30", "trainer.val_check_interval=10",
         "callbacks.figures=null", "callbacks.sample_metrics=null", "callbacks.last_checkpoint.every_n_train_steps=10"]


class InterruptAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt




@pytest.mark.parametrize("data", ["swiss_roll", "heartbeat"])
def test_resume_after_ctrl_c_matches_an_uninterrupted_run(make_cfg, tmp_path, data):
    cfg = make_cfg(*STEPS, f"data={data}")
    datamodule, module, trainer = build(cfg)
    trainer.callbacks.append(InterruptAt(15))
    with pytest.raises(SystemExit):
        trainer.fit(module, datamodule=datamodule)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=False)["global_step"] == 15

    resumed_dir, plain_dir = tmp_path / "resumed", tmp_path / "plain"
    run(make_cfg(*STEPS, f"data={data}", f"ckpt_path={ckpt}", f"paths.output_dir={resumed_dir}"))
    run(make_cfg(*STEPS, f"data={data}", f"paths.output_dir={plain_dir}"))
    resumed = json.loads((resumed_dir / "summary.json").read_text())
    plain = json.loads((plain_dir / "summary.json").read_text())
    assert resumed["step"] == plain["step"] == 30
    assert resumed["test/nll_bound_bits"] == pytest.approx(plain["test/nll_bound_bits"], abs=1e-4)
    a = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in b)
