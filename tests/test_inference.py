"""``load_run``: a trained run scores its own test split as its test did, to the last digit, and samples with its
figures' seed what its figures showed, bit for bit; the weights loaded are those the test evaluated; a checkpoint of
an earlier release loads; points that do not fit the run are refused in one line."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch

from diffusion_lightning import load_run
from diffusion_lightning.data import HeartbeatDataModule
from diffusion_lightning.errors import ConfigError
from diffusion_lightning.inference.points import as_points, read_points
from diffusion_lightning.training.callbacks import frame_steps

from .conftest import ROOT, TRAINED, train_here

OLD_CHECKPOINT = ROOT / "tests" / "data" / "main_e9abe86_step10.ckpt"
OLD_OVERRIDES = ["debug=fast", "T=20", "model.hidden=16", "model.emb_dim=8"]  # how test_resume.py made it


def summary(directory):
    return json.loads((directory / "summary.json").read_text())


def test_the_test_split_scores_as_the_test_did(trained_run):
    directory, _ = trained_run
    run = load_run(directory)
    assert run.checkpoint == directory / "checkpoints" / "last.ckpt" and run.step == summary(directory)["step"] == 30
    bits = run.nll_bound(run.test_split())
    recorded = np.load(directory / "bound_per_point.npz")["bits"]
    assert bits.dtype == torch.float64 and np.array_equal(bits.numpy(), recorded)  # each point, every bit
    assert np.float32(bits.mean().item()) == summary(directory)["test/nll_bound_bits"]  # Lightning logs float32
    assert np.float32(run.true_nll(run.test_split()).mean().item()) == summary(directory)["test/true_nll_bits"]
    other_draw = run.nll_bound(run.test_split(), seed=run.config.eval_seed + 1)
    assert not torch.equal(other_draw, bits) and abs(other_draw.mean() - bits.mean()) < 0.5


def test_the_figures_seed_gives_the_figures_samples(trained_run):
    directory, (samples, frames) = trained_run
    run = load_run(directory)
    seed, n = run.config.callbacks.figures.seed, run.config.callbacks.figures.n_samples
    assert torch.isfinite(samples).all() and len(samples) == n
    assert torch.equal(run.sample(n, seed=seed), samples)
    trajectory = run.trajectory(n, seed=seed)
    assert sorted(trajectory) == sorted(frames) == [0, *frame_steps(run.T)[1:]]
    assert all(torch.equal(trajectory[t], frames[t]) for t in frames)
    assert not torch.equal(run.sample(n, seed=seed + 1), samples)


@pytest.mark.parametrize("learned", ["schedule=learned", "process=gaussian_continuous"])
def test_a_learned_schedule_is_evaluated_by_its_average_as_the_run_did(learned, tmp_path):
    """Where the process learns parameters of its own, the run evaluated and sampled their EMA (``eval_process``);
    the loaded run does too: the same bits for each test point, the same samples."""
    samples, _ = train_here(tmp_path / "run", *TRAINED, learned)
    run = load_run(tmp_path / "run")
    assert run.process is run.module.ema_process is not None
    recorded = np.load(tmp_path / "run" / "bound_per_point.npz")["bits"]
    assert np.array_equal(run.nll_bound(run.test_split()).numpy(), recorded)
    assert torch.equal(run.sample(len(samples), seed=run.config.callbacks.figures.seed), samples)


def test_the_final_weights_are_kept_though_the_periodic_checkpoint_is_older(trained_run):
    directory, _ = trained_run
    assert json.loads((directory / "checkpoints" / "last.json").read_text())["global_step"] == 30  # periodic: 20


def test_the_checkpoint_at_the_tested_step_is_chosen(trained_run, tmp_path, caplog):
    """A run made before FinalCheckpoint: its last.ckpt may be older than its test; best.ckpt then holds the tested
    weights when the last validation was the best. Where neither does, last.ckpt loads with a warning."""
    directory = shutil.copytree(trained_run[0], tmp_path / "run")
    checkpoints = directory / "checkpoints"
    older = torch.load(checkpoints / "last.ckpt", weights_only=True)
    older["global_step"] = 20
    shutil.copy(checkpoints / "last.ckpt", checkpoints / "best.ckpt")
    torch.save(older, checkpoints / "last.ckpt")
    (checkpoints / "last.json").unlink()
    assert load_run(directory).checkpoint == checkpoints / "best.ckpt"
    torch.save(older, checkpoints / "best.ckpt")
    with caplog.at_level(logging.WARNING):
        assert load_run(directory).checkpoint == checkpoints / "last.ckpt"
    assert "its test evaluated the weights of step 30, and no checkpoint holds them" in caplog.text


def test_a_checkpoint_of_an_earlier_release_loads_with_its_overrides():
    saved = torch.load(OLD_CHECKPOINT, weights_only=True)["state_dict"]
    run = load_run(OLD_CHECKPOINT, overrides=OLD_OVERRIDES)
    assert run.step == 10 and run.directory is None and run.T == 20
    assert all(torch.equal(v, saved[f"ema.{k}"]) for k, v in run.net.state_dict().items())
    assert torch.isfinite(run.nll_bound(run.test_split()[:20])).all()
    assert run.sample(3, seed=0).shape == (3, 2)
    with pytest.raises(ConfigError, match=r"main_e9abe86_step10.ckpt does not fit its config \(size mismatch"):
        load_run(OLD_CHECKPOINT)


def test_a_run_moves_between_devices_and_keeps_its_numbers(trained_run):
    run = load_run(trained_run[0], device="cpu")
    x = run.test_split()[:10]
    assert run.to("cpu").device == torch.device("cpu")
    assert torch.equal(run.nll_bound(x), load_run(trained_run[0]).nll_bound(x))


def test_another_seed_draws_new_test_data_from_the_same_generator(trained_run):
    run = load_run(trained_run[0])
    new = run.test_split(seed=7, n=100)
    assert new.shape == (100, 2) and not torch.equal(new, run.test_split()[:100])
    assert torch.equal(new, run.test_split(seed=7, n=100))


def test_points_that_do_not_fit_are_refused_in_one_line(trained_run, tmp_path):
    run = load_run(trained_run[0])
    cases = {
        "an array of shape (4, 3), and the run's points have 2 values each": torch.zeros(4, 3),
        "an array of shape (2,), and the run's points have 2 values each": torch.zeros(2),
        "point 2 holds the value nan; a point's values must be finite": [[0, 0], [float("nan"), 1]],
        "no points": torch.zeros(0, 2),
    }
    for message, x in cases.items():
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            run.nll_bound(x)
    with pytest.raises(ConfigError, match="n=0 must be a whole number ≥ 1"):
        run.sample(0)
    with pytest.raises(ConfigError, match="point 1 holds the value 2; the run's data is binary: 0 and 1 only"):
        as_points(np.array([[0, 1, 2]]), (3,), "binary")
    (tmp_path / "bad.txt").write_text("0101\n0121\n")
    with pytest.raises(ConfigError, match=r"bad.txt, line 2: character '2' at column 3"):
        read_points(tmp_path / "bad.txt", (4,), "binary")
    (tmp_path / "bad.csv").write_text("x1,x2\n0.5,1\n0.5,1,2\n")
    with pytest.raises(ConfigError, match=r"bad.csv, line 3: 3 values, but earlier lines have 2"):
        read_points(tmp_path / "bad.csv", (2,), "continuous")
    (tmp_path / "good.csv").write_text("x1,x2\n0.5,1\n-2 3e-1\n")
    assert torch.equal(read_points(tmp_path / "good.csv", (2,), "continuous"), torch.tensor([[0.5, 1.0], [-2, 0.3]]))


def test_the_heartbeat_true_nll_is_its_number_of_sequences_or_infinite():
    data = HeartbeatDataModule(length=10, period=5, n_train=10, n_val=2, n_test=2)
    data.setup()
    valid, flipped = data.splits["test"][:1], data.splits["test"][:1].clone()
    flipped[0, 0] = 1 - flipped[0, 0]
    assert torch.equal(data.true_nll_points(torch.cat([valid, flipped])), torch.tensor([np.log2(5), np.inf]).float())


def test_not_a_run_and_a_broken_checkpoint_are_refused_in_one_line(trained_run, tmp_path):
    with pytest.raises(ConfigError, match="is not a run directory \\(it has no .hydra/config.yaml\\)"):
        load_run(tmp_path)
    with pytest.raises(ConfigError, match="no such run directory or checkpoint"):
        load_run(tmp_path / "nowhere")
    directory = shutil.copytree(trained_run[0], tmp_path / "run")
    data = (directory / "checkpoints" / "last.ckpt").read_bytes()
    (directory / "checkpoints" / "last.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="last.ckpt cannot be read as a checkpoint .*: it is cut short"):
        load_run(directory)
    for name in ("last.ckpt", "best.ckpt"):
        (directory / "checkpoints" / name).unlink()
    (directory / "checkpoints" / "last.ckpt.tmp").write_bytes(data[:100])
    with pytest.raises(ConfigError, match="has no checkpoint \\(checkpoints/last.ckpt: only last.ckpt.tmp, cut short"):
        load_run(directory)
