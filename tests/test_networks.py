"""The reverse networks' input features: Fourier features of x (VDM) for detail finer than x alone resolves."""

import math

import pytest
import torch

from diffusion_lightning.errors import ConfigError
from diffusion_lightning.networks.mlp import FourierFeatures, TimeMLP


def test_fourier_features_are_x_then_sin_and_cos_at_octaves_of_pi():
    x = torch.tensor([[0.25, -0.5]])
    features = FourierFeatures(3)(x)
    freqs = [math.pi, 2 * math.pi, 4 * math.pi]
    arg = [v * f for v in (0.25, -0.5) for f in freqs]  # each dimension's octaves side by side
    expected = [0.25, -0.5] + [math.sin(a) for a in arg] + [math.cos(a) for a in arg]
    assert features.shape == (1, FourierFeatures(3).out_dim(2)) == (1, 14)
    assert torch.allclose(features, torch.tensor([expected]), atol=1e-6)


def test_no_octaves_is_x_alone_and_checkpoints_keep_their_keys():
    x = torch.randn(5, 2)
    assert torch.equal(FourierFeatures(0)(x), x)
    plain, fourier = TimeMLP(2, 4, T=10), TimeMLP(2, 4, T=10, fourier_octaves=6)
    assert plain.state_dict().keys() == fourier.state_dict().keys()  # the frequencies are not saved
    assert fourier.body[0].in_features == plain.body[0].in_features + 2 * 2 * 6


@pytest.mark.parametrize("octaves", [-1, 2.5])
def test_a_bad_number_of_octaves_is_refused_in_one_line(octaves):
    with pytest.raises(ConfigError, match="model.fourier_octaves"):
        FourierFeatures(octaves)


def test_fourier_gates_scale_each_octave_by_a_gate_learned_from_t():
    torch.manual_seed(0)
    plain = TimeMLP(2, 4, T=10, hidden=16, fourier_octaves=3)
    torch.manual_seed(0)
    gated = TimeMLP(2, 4, T=10, hidden=16, fourier_octaves=3, fourier_gates=True)
    assert all(torch.equal(a, b) for a, b in zip(plain.body.parameters(), gated.body.parameters()))  # same start
    x, t = torch.randn(5, 2), torch.tensor([1, 2, 3, 9, 10])
    gates = torch.sigmoid(gated.gates(gated.embed(t)))
    assert gates.shape == (5, 3) and torch.allclose(gates, torch.full_like(gates, torch.sigmoid(torch.tensor(4.0))))
    with torch.no_grad():
        gated.gates.bias.copy_(torch.tensor([30.0, -30.0, 30.0]))  # octave 1 shut, the others open
    features = gated.features(x, torch.sigmoid(gated.gates(gated.embed(t))))
    expected = plain.features(x)
    shut = [2 + 1, 2 + 3 + 1, 8 + 1, 8 + 3 + 1]  # sin and cos of octave 1, for each coordinate
    kept = [i for i in range(expected.shape[1]) if i not in shut]
    assert torch.allclose(features[:, kept], expected[:, kept]) and features[:, shut].abs().max() < 1e-12
    gated(x, t).sum().backward()
    assert gated.gates.weight.grad is not None


def test_gates_without_octaves_or_not_true_or_false_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="model.fourier_octaves"):
        TimeMLP(2, 4, T=10, fourier_gates=True)
    with pytest.raises(ConfigError, match="model.fourier_gates='yes' must be true or false"):
        TimeMLP(2, 4, T=10, fourier_octaves=3, fourier_gates="yes")


@pytest.mark.parametrize("emb_dim", [63, 0, 1])
def test_an_odd_or_empty_time_embedding_is_refused_in_one_line(emb_dim):
    """sin and cos come in pairs: an odd width would give a vector one short of what the next layer expects."""
    with pytest.raises(ConfigError, match=rf"model\.emb_dim={emb_dim} must be (even|a whole number ≥ 2)"):
        TimeMLP(2, 2, T=10, emb_dim=emb_dim)
