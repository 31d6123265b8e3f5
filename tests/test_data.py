import math

import pytest
import torch

from diffusion_lightning.data import HeartbeatDataModule, SwissRollDataModule
from diffusion_lightning.data.batches import TensorBatches, TrainingBatches
from diffusion_lightning.data.swiss_roll import SwissRoll


def test_swiss_roll_is_standardised_and_seeded():
    a, b = SwissRollDataModule(n_train=50_000, seed=3), SwissRollDataModule(n_train=50_000, seed=3)
    a.setup(), b.setup()
    x = a.splits["train"]
    assert torch.equal(x, b.splits["train"])
    assert x.mean(0).abs().max() < 0.02 and (x.var(0).mean() - 1).abs() < 0.02
    assert not torch.equal(a.splits["val"], a.splits["test"][: len(a.splits["val"])])


def test_swiss_roll_density_integrates_to_one():
    """The true density from quadrature over s is a density: ∫ p(x) dx = 1 on a fine grid."""
    gen = SwissRoll(noise=0.5)
    h = 0.02
    axis = torch.arange(-3, 3, h)
    grid = torch.cartesian_prod(axis, axis)
    p = torch.exp2(-gen.nll_bits(grid).double())
    assert float(p.sum() * h * h) == pytest.approx(1.0, abs=2e-3)


def test_true_nll_is_below_a_mismatched_density():
    """Cross-entropy against any other density (here: N(0, I)) is higher than the true NLL."""
    gen = SwissRoll(noise=0.5)
    x = gen.sample(20_000, torch.Generator().manual_seed(0))
    gaussian = (math.log(2 * math.pi) + 0.5 * (x**2).sum(1)) / math.log(2)
    assert gen.nll_bits(x).mean() < gaussian.mean() - 1


def test_training_batches_cover_every_row_once_per_pass_and_shards_are_disjoint():
    data = torch.arange(103).float()[:, None]
    stream = TrainingBatches(data, 10)
    one_pass = torch.cat([stream.batch(k) for k in range(10)]).flatten().tolist()
    assert len(set(one_pass)) == 100 and set(one_pass) <= set(range(103))  # 3 rows dropped: incomplete batch
    assert torch.cat([stream.batch(k) for k in range(10, 20)]).flatten().tolist() != one_pass  # reshuffled
    shards = [{x for k in range(5) for x in TrainingBatches(data, 10, rank=r, world_size=2).batch(k).flatten().tolist()}
              for r in (0, 1)]
    assert not shards[0] & shards[1] and len(shards[0]) == len(shards[1]) == 50
    assert torch.cat(list(TensorBatches(data, 10))).equal(data) and len(TensorBatches(data, 10)) == 11


def test_training_stream_starts_at_the_restored_step_and_stacks_consecutive_steps():
    data = torch.randn(100, 2)
    plain = TrainingBatches(data, 8, seed=3)
    items = iter(TrainingBatches(data, 8, seed=3, steps=5, step=lambda: 17))
    for k in (17, 22, 27):  # crosses from pass 1 (steps 12-23) into pass 2
        item = next(items)
        assert item.shape == (5, 8, 2)
        assert all(item[j].equal(plain.batch(k + j)) for j in range(5))


def test_a_split_smaller_than_a_batch_is_drawn_with_replacement_step_by_step():
    data = torch.arange(6.0)[:, None]
    plain = TrainingBatches(data, 256, seed=3)
    batch = plain.batch(4)
    assert batch.shape == (256, 1) and set(batch.flatten().tolist()) == set(range(6))  # every row, many times
    assert batch.equal(TrainingBatches(data, 256, seed=3).batch(4)) and not batch.equal(plain.batch(5))
    item = next(iter(TrainingBatches(data, 256, seed=3, steps=5, step=lambda: 2)))  # stacking and resuming agree
    assert all(item[j].equal(plain.batch(2 + j)) for j in range(5))
    assert not TrainingBatches(data, 256, seed=3, rank=1, world_size=2).batch(4).equal(batch)  # each rank its own


def test_generated_heartbeats_follow_the_paper():
    dm = HeartbeatDataModule(length=20, period=5)
    dm.setup()
    x = dm.splits["train"]
    assert x.shape == (10_000, 20) and len(x.unique(dim=0)) == 5
    assert dm.mean_activity() == pytest.approx(0.2)
    assert dm.true_nll_bits("test") == pytest.approx(math.log2(5))
    metrics = dm.sample_metrics(torch.cat([x[:90], torch.zeros(10, 20)]), "val")
    assert metrics["valid_fraction"] == pytest.approx(0.9) and metrics["other_fraction"] == pytest.approx(0.1)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_files_in_the_users_format(tmp_path):
    rows = ["".join("1" if i % 32 == phase else "0" for i in range(64)) for phase in range(32)]
    dm = HeartbeatDataModule(train_file=write(tmp_path, "train.txt", "\n".join(rows[:30]) + "\n"),
                             val_file=write(tmp_path, "val.txt", "\n".join(rows[30:])), period=None, batch_size=8)
    dm.setup()
    assert dm.splits["train"].shape == (27, 64) and dm.splits["val"].shape == (2, 64)  # 3 lines held out for test
    assert dm.splits["test"].shape == (3, 64)
    assert dm.shape == (64,) and dm.period == 32 and dm.true_nll_bits("val") is None
    metrics = dm.sample_metrics(dm.splits["val"], "val")
    assert metrics["val_fraction"] == 1.0 and metrics["valid_fraction"] == 1.0


@pytest.mark.parametrize("text,message", [
    ("0101\n01x1\n", r"line 2: character 'x' at column 3"),
    ("0101\n011\n", r"line 2: length 3, but earlier lines have length 4"),
    ("\n\n", r"holds no sequences"),
    ("", r"holds no sequences"),
])
def test_malformed_files_are_refused_with_file_and_line(tmp_path, text, message):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(ValueError, match=message) as info:
        HeartbeatDataModule(train_file=path, batch_size=1).setup()
    assert "bad.txt" in str(info.value)


def test_held_out_rows_are_disjoint_seeded_and_refused_when_too_few():
    from diffusion_lightning.data.files import DataFiles

    files = DataFiles("rows.txt", val_fraction=0.2, test_fraction=0.1, split_seed=3)
    index = files.hold_out(50)
    assert {s: len(i) for s, i in index.items()} == {"val": 10, "test": 5, "train": 35}
    assert sorted(torch.cat(list(index.values())).tolist()) == list(range(50))  # disjoint, and every row
    assert index["test"].equal(DataFiles("rows.txt", val_fraction=0.2, test_fraction=0.1, split_seed=3).hold_out(50)["test"])
    assert not index["test"].equal(DataFiles("rows.txt", val_fraction=0.2, test_fraction=0.1, split_seed=4).hold_out(50)["test"])
    assert set(DataFiles("rows.txt", val_file="v.txt").hold_out(50)) == {"test", "train"}  # val from its file
    with pytest.raises(ValueError, match=r"rows.txt: 12 rows, too few to split: data.test_fraction=0.1 holds out 1, "
                                         r"and every split needs ≥ 2; give more rows, raise data.test_fraction"):
        files.hold_out(12)
    with pytest.raises(ValueError, match=r"data.val_fraction=1.5 must lie strictly between 0 and 1"):
        DataFiles("rows.txt", val_fraction=1.5)
    with pytest.raises(ValueError, match=r"data.val_fraction \+ data.test_fraction = 1 leaves no training rows"):
        DataFiles("rows.txt", val_fraction=0.5, test_fraction=0.5)
    DataFiles("rows.txt", val_file="v.txt", test_file="t.txt", val_fraction=7)  # unused shares are not checked


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"data.train_file: no such file: .*nope.txt"):
        HeartbeatDataModule(train_file=str(tmp_path / "nope.txt"), batch_size=1).setup()


def test_energy_distance_of_a_blown_up_sampler_is_infinite():
    from diffusion_lightning.data.metrics import energy_distance

    x = torch.randn(50, 2)
    assert energy_distance(torch.full((50, 2), float("inf")), x) == float("inf")


def test_energy_distance_of_one_point_is_refused_not_nan():
    from diffusion_lightning.data.metrics import energy_distance

    with pytest.raises(ValueError, match="needs ≥ 2 points in each set, got 1 and 50"):
        energy_distance(torch.zeros(1, 2), torch.randn(50, 2))
