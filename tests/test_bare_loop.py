"""The product's optimizer steps (``manual_backward`` and ``optimizer.step`` in ``DiffusionModule.training_step``,
the module's clipping, the LR schedule and the EMA) train the same weights, bit for bit, as a bare PyTorch loop:
``bench.loops.BareLoop``, the loop the overhead benchmark measures the product against."""

import copy

import lightning as L
import pytest
import torch

from diffusion_lightning.bench.loops import BareLoop
from diffusion_lightning.training.run import build

STEPS = 25
TINY = ["debug=fast", "T=20", f"trainer.max_steps={STEPS}", "trainer.val_check_interval=10",
        "trainer.log_every_n_steps=5", "steps_per_batch=5", "logger=none", "model.hidden=32", "model.layers=2",
        "data.batch_size=128", "callbacks.figures=null", "callbacks.sample_metrics=null",
        "callbacks.last_checkpoint.every_n_train_steps=10"]


class CountStepHooks(L.Callback):
    """Lightning's hooks around each backward and optimizer step: they run once per optimizer step."""

    def __init__(self):
        self.backward = self.before_step = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.backward += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.before_step += 1


def equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x, y = a.state_dict(), b.state_dict()
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.parametrize(("optimizer", "clip"), [("adam", "1.0"), ("sgd_momentum", "1.0"), ("adam", "1e-3")])
def test_lightning_trains_as_a_bare_pytorch_loop(make_cfg, tmp_path, optimizer, clip):
    """Weights and EMA after 25 steps (5 calls of 5), with the default clipping by norm and with a clip tight
    enough to act on every step; the validations between calls draw from their own generator."""
    cfg = make_cfg(*TINY, f"optimizer={optimizer}", f"trainer.gradient_clip_val={clip}")
    datamodule, module, trainer = build(cfg)
    bare, initial = BareLoop(cfg, datamodule, module), copy.deepcopy(module.net)
    rng = torch.get_rng_state()  # both draw t and the noise from torch's global generator
    bare.run(STEPS)
    torch.set_rng_state(rng)
    hooks = CountStepHooks()
    trainer.callbacks.append(hooks)
    trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == STEPS and hooks.backward == hooks.before_step == STEPS
    assert [v["step"] for v in module.val_history] == [10, 20, 25]
    assert not equal(module.net, initial)
    assert equal(module.net, bare.net) and equal(module.ema, bare.ema)


def test_the_clip_acts(make_cfg, tmp_path):
    """A tight clip changes the weights, so the comparison above with the clip at 1e-3 tests the clipping."""
    modules = {}
    for clip in ("1e-3", "null"):
        datamodule, modules[clip], trainer = build(make_cfg(*TINY, f"trainer.gradient_clip_val={clip}",
                                                            f"paths.output_dir={tmp_path / clip}"))
        trainer.fit(modules[clip], datamodule=datamodule)
    assert not equal(modules["1e-3"].net, modules["null"].net)
