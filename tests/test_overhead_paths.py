"""The two ways an optimizer step is made (``stepping.optimizer_steps``): through Lightning's wrappers, or directly
where they only call through. Both train the same weights, bit for bit, and count the same steps."""

import lightning as L
import pytest
import torch

from diffusion_lightning.training.stepping import calls_through
from diffusion_lightning.training.run import build

TINY = ["debug=fast", "T=20", "trainer.max_steps=25", "trainer.val_check_interval=10", "trainer.log_every_n_steps=5",
        "steps_per_batch=5", "logger=none", "model.hidden=32", "model.layers=2", "data.batch_size=128",
        "callbacks.figures=null", "callbacks.sample_metrics=null", "callbacks.last_checkpoint.every_n_train_steps=10"]


class CountBackward(L.Callback):
    """A callback with a backward hook: Lightning must run it, so the step goes through Lightning."""

    def __init__(self):
        self.calls = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls += 1


def fit(make_cfg, path, *overrides, callback=None):
    datamodule, module, trainer = build(make_cfg(*TINY, f"paths.output_dir={path}", *overrides))
    if callback is not None:
        trainer.callbacks.append(callback)
    direct = calls_through(trainer, module)
    trainer.fit(module, datamodule=datamodule)
    return direct, trainer, module


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_direct_steps_train_as_lightnings_path(make_cfg, tmp_path, optimizer):
    """Weights, EMA, optimizer and LR-schedule state, logged curves, step count and the validations (counted in
    optimizer steps) match, with gradient clipping on (the default)."""
    counter = CountBackward()
    runs = {"direct": fit(make_cfg, tmp_path / "direct", f"optimizer={optimizer}"),
            "lightning": fit(make_cfg, tmp_path / "lightning", f"optimizer={optimizer}", callback=counter)}
    (direct, trainer_d, module_d), (through, trainer_l, module_l) = runs["direct"], runs["lightning"]
    assert direct and not through and counter.calls == 25
    assert trainer_d.global_step == trainer_l.global_step == 25
    weights_d, weights_l = module_d.state_dict(), module_l.state_dict()
    assert weights_d.keys() == weights_l.keys() and all(torch.equal(weights_d[k], weights_l[k]) for k in weights_d)
    state_d, state_l = trainer_d.optimizers[0].state_dict(), trainer_l.optimizers[0].state_dict()
    assert state_d["param_groups"] == state_l["param_groups"]
    for a, b in zip(state_d["state"].values(), state_l["state"].values()):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    schedulers = [t.lr_scheduler_configs[0].scheduler.state_dict() for t in (trainer_d, trainer_l)]
    assert schedulers[0] == schedulers[1]
    assert module_d.history == module_l.history
    assert [v["step"] for v in module_d.val_history] == [v["step"] for v in module_l.val_history] == [10, 20, 25]


def test_direct_steps_clip(make_cfg, tmp_path):
    """The module's clipping runs on the direct path: a tight clip changes the weights."""
    (direct, _, clipped), (_, _, free) = (fit(make_cfg, tmp_path / "clip", "trainer.gradient_clip_val=1e-3"),
                                          fit(make_cfg, tmp_path / "free", "trainer.gradient_clip_val=null"))
    assert direct and not all(torch.equal(a, b) for a, b in zip(clipped.net.parameters(), free.net.parameters()))


class BeforeStep(L.Callback):
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        pass


@pytest.mark.parametrize("settings", [{"precision": "bf16-mixed"}, {"precision": "16-mixed"}, {"precision": "64-true"},
                                      {"profiler": "simple"}, {"strategy": "ddp", "devices": 2},
                                      {"callbacks": [BeforeStep()]}])
def test_lightnings_path_where_it_does_more(make_cfg, settings):
    """Gradient synchronisation, loss scaling or unscaling, a profiler, or a callback's step hook: Lightning's path."""
    _, module, trainer = build(make_cfg(*TINY))
    assert calls_through(trainer, module)  # the product as configured takes the direct path
    assert not calls_through(L.Trainer(accelerator="cpu", logger=False, **settings), module)


def test_lightnings_path_for_a_module_with_a_backward_hook(make_cfg):
    _, module, trainer = build(make_cfg(*TINY))

    class Hooked(type(module)):
        def on_after_backward(self) -> None:
            pass

    module.__class__ = Hooked
    assert not calls_through(trainer, module)
