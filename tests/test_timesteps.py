import torch

from diffusion_lightning.diffusion.timesteps import ImportanceSampler, UniformSampler


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
