"""data=points: the user's own N × d array from .npy, .npz, .csv or .tsv, standardised on the training rows, with the
standardisation's log-determinant in the bound (bits in the file's units), and one line for each bad input."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from diffusion_lightning.data import PointsDataModule
from diffusion_lightning.data.standardisation import Standardisation
from diffusion_lightning.diffusion import schedules
from diffusion_lightning.diffusion.processes import GaussianDiffusion
from diffusion_lightning.training.module import DiffusionModule
from diffusion_lightning.training.run import run

MEAN, STD = np.array([100.0, -7.0]), np.array([30.0, 5.0])
QUICK = ("logger=none", "trainer.max_steps=20", "trainer.val_check_interval=10", "callbacks.sample_metrics.n_samples=64",
         "callbacks.figures.n_samples=64")


def gaussian_points(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2)) * STD + MEAN


def write_csv(path, x: np.ndarray, header: str | None = "x,y", delimiter: str = ",") -> str:
    np.savetxt(path, x, delimiter=delimiter, header=header or "", comments="")
    return str(path)


def points(path, **kwargs) -> PointsDataModule:
    dm = PointsDataModule(train_file=str(path), **kwargs)
    dm.setup()
    return dm


def test_every_format_reads_the_same_points(tmp_path):
    x = gaussian_points(50)
    np.save(tmp_path / "p.npy", x)
    np.savez(tmp_path / "one.npz", x)
    np.savez(tmp_path / "two.npz", pts=x, other=x[:3])
    read = {name: points(tmp_path / name, standardise=False, **kw).splits["train"] for name, kw in [
        ("p.npy", {}), ("one.npz", {}), ("two.npz", {"array": "pts"}),
        (write_csv(tmp_path / "h.csv", x), {}), (write_csv(tmp_path / "n.csv", x, header=None), {}),
        (write_csv(tmp_path / "p.tsv", x, delimiter="\t"), {})]}
    first = next(iter(read.values()))
    assert first.shape == (40, 2) and all(v.equal(first) for v in read.values())  # 5 + 5 rows held out
    assert torch.allclose(first.double(), torch.from_numpy(x)[PointsDataModule(
        train_file=str(tmp_path / "p.npy")).files.hold_out(50)["train"]], rtol=1e-6)
    np.save(tmp_path / "line.npy", x[:, 0])
    assert points(tmp_path / "line.npy").shape == (1,)  # a 1-D array: N points of d = 1


def test_standardisation_comes_from_the_training_rows_alone_and_is_undone(tmp_path):
    x = gaussian_points(400)
    dm = points(write_csv(tmp_path / "p.csv", x))
    train = torch.from_numpy(x)[dm.files.hold_out(400)["train"]]
    assert torch.allclose(dm.standardisation.mean, train.mean(0)) and torch.allclose(dm.standardisation.std,
                                                                                     train.std(0, correction=0))
    assert dm.splits["train"].double().mean(0).abs().max() < 1e-6  # exactly the training rows' moments
    assert dm.bits_offset == pytest.approx(float(torch.log2(train.std(0, correction=0)).sum()))
    assert torch.allclose(dm.to_data(dm.splits["test"]).double(), torch.from_numpy(x)[dm.files.hold_out(400)["test"]],
                          rtol=1e-5)
    assert dm.true_nll_bits("test") is None  # unknown: absent, never 0
    same = Standardisation.from_dict(json.loads(json.dumps(dm.describe()["standardisation"])))
    assert same.mean.equal(dm.standardisation.mean) and same.log_det_bits == dm.bits_offset
    plain = points(tmp_path / "p.csv", standardise=False)
    assert plain.bits_offset == 0 and plain.splits["test"].double().allclose(dm.to_data(dm.splits["test"]).double())


class ExactReverse(nn.Module):
    """The exact reverse process of N(0, I) data under ε-prediction and a learned variance (see
    tests/test_known_answers.py): ε̂ = √(1−ᾱ_t)·x_t and log σ_t² = log β_t."""

    def __init__(self, betas: torch.Tensor):
        super().__init__()
        self.register_buffer("beta", torch.cat([torch.zeros(1, dtype=torch.float64), betas.double()]))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b = self.beta[t][:, None]
        alpha_bar = torch.cumprod(1 - self.beta, 0)[t][:, None]
        eps = (1 - alpha_bar).sqrt() * x_t.double()
        return torch.cat([eps, b.log().expand_as(eps)], -1).float()


def test_the_bound_of_the_exact_model_is_the_files_gaussian_nll_in_its_units(tmp_path):
    """Standardised by the training rows, the data's model is N(0, I); its exact reverse process, with the
    log-determinant Σ log₂ σ_j added, scores each file point at −log₂ N(x; μ, diag σ²) in the file's units: exactly for
    the prior alone (L_null), and for the bound in expectation over x_t, exactly by two-point quadrature, and within
    its standard error through the run's own test loop."""
    import lightning as L

    x = gaussian_points(4000)
    dm = points(write_csv(tmp_path / "p.csv", x), eval_batch_size=4000)
    mean, std = dm.standardisation.mean, dm.standardisation.std
    test = torch.from_numpy(x)[dm.files.hold_out(4000)["test"]]
    expected = -torch.distributions.Normal(mean, std).log_prob(test).sum(1) / math.log(2)  # bits, the file's units
    betas = schedules.linear(6, beta_start=0.05, beta_end=0.6)
    process, net = GaussianDiffusion(betas, variance="learned"), ExactReverse(betas)
    z = dm.splits["test"]
    total = process.prior_term(z).double()
    for t in range(1, 7):  # E over x_t of each term: a quadratic in the noise, exact at ε = ±1
        ts = torch.full((len(z),), t)
        for sign in (1.0, -1.0):
            x_t = process.q_sample(z, ts, noise=torch.full_like(z, sign))
            total += 0.5 * process.term(net(x_t, ts), z, x_t, ts).double()
    assert torch.allclose(total / math.log(2) + dm.bits_offset, expected, atol=1e-3)
    module = DiffusionModule(process, net, optimizer=None, ema_decay=0)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False, accelerator="cpu")
    trainer.test(module, datamodule=dm, verbose=False)
    m = trainer.callback_metrics
    assert float(m["test/prior_nll_bits"]) == pytest.approx(float(expected.mean()), abs=1e-3)
    se = float(m["test/nll_bound_se_bits"])
    assert abs(float(m["test/nll_bound_bits"]) - float(expected.mean())) < 4 * se and se < 0.2  # vs 7.2 bits of offset
    assert "test/true_nll_bits" not in m


def test_a_run_on_points_reports_bits_in_the_files_units_and_no_true_nll(make_cfg, tmp_path):
    path = write_csv(tmp_path / "p.csv", gaussian_points(600))
    run(make_cfg("data=points", f"data.train_file={path}", *QUICK))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "finished" and "true_nll_bits" not in s and "test/true_nll_bits" not in s
    assert s["test/prior_nll_bits"] > 10  # N(0, I) in standardised units is ~2.9 bits; + log₂(30·5) in the file's
    info = json.loads((tmp_path / "run_info.json").read_text())["data"]
    assert info["rows"] == {"train": 480, "val": 60, "test": 60} and info["standardisation"]["log_det_bits"] > 7
    assert {p.name for p in (tmp_path / "figures").iterdir()} >= {"samples.png", "forward_process.png"}
    points = np.load(tmp_path / "figures" / "samples.npz")  # the samples figure's points, in the file's units
    assert points["samples"].shape == (64, 2) and np.abs(points["data"].mean(0) - MEAN).max() < 3 * STD.max() / 8


def test_debug_fast_runs_on_points_and_shrinks_the_generated_splits_only(make_cfg, tmp_path):
    for data in ("swiss_roll", "heartbeat", "toy"):
        cfg = make_cfg("debug=fast", f"data={data}").data
        assert (cfg.n_train, cfg.n_val, cfg.n_test) == (2048, 256, 256), data
    path = write_csv(tmp_path / "p.csv", gaussian_points(600))
    cfg = make_cfg("debug=fast", "data=points", f"data.train_file={path}", "logger=none")
    assert "n_train" not in cfg.data  # a file keeps its own rows
    run(cfg)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "finished"


def test_points_of_three_coordinates_train_and_say_which_figures_they_skip(make_cfg, tmp_path, caplog):
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(300, 3)))
    with caplog.at_level("INFO"):
        run(make_cfg("data=points", f"data.train_file={tmp_path / 'p.npy'}", *QUICK))
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "finished"
    assert any("the data has 3 coordinates" in r.getMessage() for r in caplog.records)
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {"curves.png", "bound_per_t.png"}


@pytest.mark.parametrize("name,text,message", [
    ("nan.csv", "x,y\n1,2\n3,nan\n", r"nan.csv, line 3, column 2: nan; every value must be finite"),
    ("inf.csv", "1,2\n3,4\ninf,4\n", r"inf.csv, line 3, column 1: inf; every value must be finite"),
    ("ragged.csv", "1,2\n3,4\n5,6,7\n", r"ragged.csv, line 3: 3 values, but the first row has 2"),
    ("word.csv", "x,y\n1,2\n3,abc\n", r"word.csv, line 3, column 2: 'abc' is not a number"),
    ("word.tsv", "1\t2\nabc\t4\n", r"word.tsv, line 2, column 1: 'abc' is not a number"),
    ("empty.csv", "", r"empty.csv: the file holds no points"),
    ("header.csv", "x,y\n", r"header.csv: the file holds no points"),
    ("few.csv", "1,2\n3,4\n5,6\n", r"few.csv: 3 rows, too few to split: data.val_fraction=0.1 holds out 0"),
    ("constant.csv", "".join(f"{i},5\n" for i in range(30)), r"constant.csv: column 2 holds one value \(5\) in every"),
    ("p.txt", "1,2\n", r"data.train_file=.*p.txt: unknown format .txt; give one of .npy, .npz, .csv, .tsv"),
])
def test_bad_text_files_are_refused_in_one_line_naming_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        points(tmp_path / name)
    assert "\n" not in str(info.value)


def test_bad_arrays_and_mismatched_files_are_refused_in_one_line(tmp_path):
    x = gaussian_points(40)
    bad = x.copy()
    bad[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.savez(tmp_path / "two.npz", a=x, b=x)
    np.save(tmp_path / "words.npy", np.array([["a", "b"]] * 5))
    np.save(tmp_path / "cube.npy", np.zeros((4, 2, 2)))
    np.save(tmp_path / "three.npy", np.zeros((5, 3)))
    cases = {
        "nan.npy": ({}, r"nan.npy, row 7 \(counting from 0\), column 1: nan; every value must be a finite number"),
        "two.npz": ({}, r"two.npz holds the arrays a, b; choose one with data.array=<name>"),
        "words.npy": ({}, r"words.npy: an array of <U1, not of numbers"),
        "cube.npy": ({}, r"cube.npy: an array of shape \(4, 2, 2\); points are an N × d array"),
    }
    cases["two.npz#c"] = ({"array": "c"}, r"two.npz has no array data.array=c; it holds a, b")
    for name, (kwargs, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            points(tmp_path / name.split("#")[0], **kwargs)
    np.save(tmp_path / "p.npy", x)
    with pytest.raises(ValueError, match=r"three.npy: rows of 3 values, but data.train_file's rows have 2"):
        points(tmp_path / "p.npy", test_file=str(tmp_path / "three.npy"))
    with pytest.raises(ValueError, match=r"data=points needs a file of points: data.train_file=<file>"):
        PointsDataModule()


def test_a_bad_file_ends_the_command_in_one_line(cli, tmp_path):
    (tmp_path / "bad.csv").write_text("1,2\n" * 30 + "3,x\n")
    result = cli("data=points", f"data.train_file={tmp_path / 'bad.csv'}", "logger=none")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "error: " in result.stderr and "bad.csv, line 31, column 2: 'x' is not a number" in result.stderr
