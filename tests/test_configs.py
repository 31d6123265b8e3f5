"""Every option of every config group composes and trains a few steps."""

import json
import math
import shutil

import pytest
import yaml

from diffusion_lightning.training.run import run

from .conftest import ROOT

FAST = ["debug=fast", "T=20", "callbacks.figures=null", "logger=none"]
GAUSSIAN = {
    "schedule": ["linear", "cosine", "quadratic", "sigmoid", "constant"],
    "loss": ["kl", "mse", "hybrid"],
    "optimizer": ["adam", "adamw", "sgd", "sgd_momentum"],
    "lr_scheduler": ["none", "exponential", "cosine"],
    "model": ["mlp", "slides", "per_step"],
    "logger": ["csv", "tensorboard", "none"],
}
BINARY = {"model": ["mlp", "mlp_128", "heartbeat_paper", "heartbeat_proposed", "heartbeat_tweaked"],
          "schedule": ["sohl_dickstein", "linear", "cosine"], "loss": ["kl", "hybrid"]}


def train(make_cfg, tmp_path, *overrides):
    """20 steps, and every bound in bits finite (a NaN or infinite bound fails here; an untrained sampler may blow
    up, which its energy distance reports as inf, see data/metrics.py)."""
    run(make_cfg(*FAST, *overrides))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == 20
    bits = {k: v for k, v in summary.items() if k.endswith("_bits")}
    assert "test/nll_bound_bits" in bits and all(map(math.isfinite, bits.values())), bits
    return summary


def assert_a_bound(summary: dict) -> None:
    """The bound is at least the data's true NLL, which no model beats. 20 steps are too few to learn: every option
    here ends above the prior's cost (measured: 9–1380 bits against 4.1 on the Swiss roll, 36–155 against 14.4 on
    the heartbeat), so beating the prior is tested where runs are long enough (tests/test_first_command.py)."""
    assert summary["test/nll_bound_bits"] > summary["true_nll_bits"]


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GAUSSIAN.items() for o in opts])
def test_swiss_roll_option_trains(make_cfg, tmp_path, group, option):
    summary = train(make_cfg, tmp_path, f"{group}={option}")
    assert_a_bound(summary)
    for key in ("val/nll_bound_bits", "test/nll_bound_bits", "true_nll_bits", "samples/energy_distance"):
        assert key in summary


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in BINARY.items() for o in opts])
def test_heartbeat_option_trains(make_cfg, tmp_path, group, option):
    summary = train(make_cfg, tmp_path, "data=heartbeat", f"{group}={option}")
    assert_a_bound(summary)
    for key in ("test/nll_bound_bits", "true_nll_bits", "test/gain_over_prior_bits", "samples/valid_fraction",
                "samples/other_fraction"):
        assert key in summary


@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
def test_mse_with_fixed_variances(make_cfg, tmp_path, variance):
    assert_a_bound(train(make_cfg, tmp_path, "loss=mse", f"process.variance={variance}"))


def test_figures_are_written(make_cfg, tmp_path):
    run(make_cfg("debug=fast", "T=20", "logger=none"))
    names = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert {"forward_process", "reverse_process", "samples", "curves", "bound_per_t"} <= names


def test_trainer_configs_compose(make_cfg):
    assert make_cfg("trainer=gpu").trainer.accelerator == "gpu"
    cfg = make_cfg("trainer=ddp")
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2


def test_the_process_follows_the_data_unless_chosen(make_cfg):
    assert make_cfg().process._target_.endswith("GaussianDiffusion")
    assert make_cfg("data=heartbeat").process._target_.endswith("BinomialDiffusion")
    assert make_cfg("data=heartbeat", "process=gaussian").process._target_.endswith("GaussianDiffusion")


def test_data_configs_hold_only_their_datamodule():
    for path in (ROOT / "conf" / "data").glob("*.yaml"):
        text = path.read_text()
        assert "@package" not in text and "defaults" not in text, path.name
        assert yaml.safe_load(text)["_target_"].startswith("diffusion_lightning.data."), path.name


def test_a_model_asks_for_its_parameterisation_and_the_command_line_wins(make_cfg):
    assert (make_cfg("model=slides").process.prediction, make_cfg("model=slides").process.variance) == ("mean", "learned")
    assert make_cfg("model=slides", "process.variance=fixed_small").process.variance == "fixed_small"
    assert make_cfg("data=heartbeat", "model=heartbeat_paper").process.prediction == "rate"
    assert make_cfg("data=heartbeat").process.prediction == "x0"


def test_heartbeat_paper_follows_the_paper(make_cfg):
    cfg = make_cfg("experiment=heartbeat_paper")
    assert cfg.process._target_.endswith("BinomialDiffusion")
    assert (cfg.schedule._target_.rsplit(".", 1)[1], cfg.T) == ("sohl_dickstein", 2000)
    assert make_cfg("experiment=heartbeat_paper", "T=30", "schedule=linear").T == 30
    # the experiment's measured recipe wins over the groups' defaults, and the command line wins over both
    assert (cfg.optimizer.lr, cfg.loss.t_sampler._target_.rsplit(".", 1)[1], cfg.trainer.max_steps,
            cfg.model.hidden) == (2e-3, "UniformSampler", 16_000, 128)
    assert make_cfg("experiment=heartbeat_paper", "optimizer=sgd", "optimizer.lr=0.5").optimizer.lr == 0.5


def test_a_small_file_and_a_small_split_train(make_cfg, tmp_path):
    """Fewer training rows than a batch: drawn with replacement, no flag needed (the user's file has 30 lines)."""
    rows = ["".join("1" if i % 4 == phase else "0" for i in range(8)) for phase in range(4)]
    (tmp_path / "train.txt").write_text("\n".join(rows[:3] * 4) + "\n")  # 12 lines: 8 train, 2 val, 2 test
    train(make_cfg, tmp_path, "data=heartbeat", f"data.train_file={tmp_path / 'train.txt'}", "data.period=null",
          "data.val_fraction=0.2", "data.test_fraction=0.2")
    shutil.rmtree(tmp_path / "checkpoints")  # the second run's own
    train(make_cfg, tmp_path, "data.n_train=100", "data.batch_size=512")


@pytest.mark.parametrize("overrides,message", [
    (["loss=mse", "process.variance=learned_range"], "loss=mse trains only the mean"),
    (["process=binomial"], "process=binomial needs binary data"),
    (["data=heartbeat", "loss=mse"], "loss=mse needs Gaussian diffusion"),
    (["data=heartbeat", "model=heartbeat_paper", "loss=hybrid"], "needs process.prediction=x0"),
    (["process=gaussian", "data=heartbeat"], "process=gaussian needs continuous data"),
    (["T=0"], "T=0 must be a whole number"),
    (["ema_decay=1.0"], "ema_decay=1.0 must lie in"),
    (["steps_per_batch=0"], "steps_per_batch=0 must be a whole number ≥ 1"),
    (["trainer.val_check_interval=0.5"], "trainer.val_check_interval=0.5 must be a whole number of optimizer steps"),
    (["+trainer.accumulate_grad_batches=2"], "accumulate_grad_batches is not supported"),
    (["trainer.max_epochs=5"], "training is counted in steps, not epochs"),
    (["+trainer.gradient_clip_algorithm=foo"], "gradient_clip_algorithm=foo is not known"),
])
def test_bad_configurations_are_refused(make_cfg, overrides, message):
    with pytest.raises(ValueError, match=message):
        run(make_cfg(*FAST, *overrides))
