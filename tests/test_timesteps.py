import pytest
import torch

from diffusion_lightning.diffusion.timesteps import ImportanceSampler, UniformSampler
from diffusion_lightning.errors import ConfigError


def test_importance_sampling_is_unbiased_and_follows_the_loss():
    T = 50
    L = torch.linspace(0.01, 5.0, T + 1) ** 2  # a loss that grows with t
    sampler = ImportanceSampler(T, history=4)
    torch.manual_seed(0)
    for _ in range(50):  # fill every history
        t, _ = sampler.sample(256, "cpu")
        sampler.update(t, L[t])
    assert sampler.probabilities() is not None
    t, w = sampler.sample(400_000, "cpu")
    estimate = (T * w * L[t]).mean()
    assert abs(estimate / L[1:].sum() - 1) < 0.01
    counts = torch.bincount(t, minlength=T + 1)
    assert counts[T] > 10 * counts[1]


def test_uniform_until_every_step_has_a_history():
    sampler = ImportanceSampler(10, history=3)
    t, w = sampler.sample(100, "cpu")
    assert torch.all(w == 1) and sampler.probabilities() is None
    assert set(UniformSampler(10).sample(10_000, "cpu")[0].tolist()) == set(range(1, 11))


def test_history_is_part_of_the_state_dict():
    assert {"losses", "counts"} <= set(ImportanceSampler(5).state_dict())


def test_the_importance_probabilities_are_their_closed_form():
    """p_t = (1 − mix)·√E[L_t²]/Σ√E[L_s²] + mix/T once every t has a full history; weights 1/(T·p_t)."""
    T, history, mix = 4, 2, 0.2
    sampler = ImportanceSampler(T, history=history, uniform_mix=mix)
    for t, pair in enumerate(([1.0, 3.0], [2.0, 2.0], [-4.0, 0.0], [0.5, 0.5]), start=1):
        sampler.update(torch.tensor([t, t]), torch.tensor(pair))  # one batch keeps the last value of a repeated t
        assert sampler.probabilities() is None or t == T
        sampler.update(torch.tensor([t]), torch.tensor([pair[0]]))
    assert sampler.counts.tolist() == [0, 2, 2, 2, 2]
    rms = torch.tensor([(1 + 9) / 2, 4.0, 8.0, 0.25]).sqrt()
    expected = (1 - mix) * rms / rms.sum() + mix / T
    assert torch.allclose(sampler.probabilities(), expected)
    torch.manual_seed(0)
    t, w = sampler.sample(1000, "cpu")
    assert torch.allclose(w, 1 / (T * expected[t - 1])) and set(t.tolist()) == {1, 2, 3, 4}


def test_a_batch_writes_the_last_value_of_each_step_into_its_ring_slot():
    sampler = ImportanceSampler(6, history=2)
    sampler.update(torch.tensor([3, 5, 3, 1]), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert sampler.counts.tolist() == [0, 1, 0, 1, 0, 1, 0]
    assert sampler.losses[:, 0].tolist() == [0, 4.0, 0, 3.0, 0, 2.0, 0]
    sampler.update(torch.tensor([3]), torch.tensor([7.0]))
    sampler.update(torch.tensor([3]), torch.tensor([8.0]))  # the ring wraps: slot 0 again
    assert sampler.losses[3].tolist() == [8.0, 7.0] and sampler.counts[3] == 3
    one_more = ImportanceSampler(2, history=1)
    one_more.update(torch.tensor([2]), torch.tensor([1.0]))
    assert one_more.probabilities() is None  # t = 1 still lacks its history


@pytest.mark.parametrize("history,mix,line", [
    (0, 0.5, "loss.t_sampler.history=0 must be a whole number ≥ 1"),
    (1, 0.0, "loss.t_sampler.uniform_mix=0.0 must be a number in (0, 1]"),
    (1, 1.5, "loss.t_sampler.uniform_mix=1.5 must be a number in (0, 1]"),
    (-1, 0.5, "loss.t_sampler.history=-1 must be a whole number ≥ 1"),
    ("abc", 0.5, "loss.t_sampler.history=abc must be a whole number ≥ 1")])
def test_a_sampler_without_history_or_mixture_is_refused(history, mix, line):
    with pytest.raises(ConfigError) as info:
        ImportanceSampler(4, history=history, uniform_mix=mix)
    assert str(info.value) == line
    ImportanceSampler(4, history=1, uniform_mix=1.0)  # the edges that are allowed


def test_t_and_weights_are_drawn_on_the_device_asked_for():
    for sampler in (UniformSampler(5), ImportanceSampler(5)):
        t, w = sampler.sample(3, "meta")
        assert t.device.type == w.device.type == "meta" and t.dtype == torch.long
