"""A time-conditioned MLP: one network shared over every t, told t by a sinusoidal embedding (DDPM)."""

import math

import torch
from torch import nn

from ..errors import ConfigError, check_number

GATE_OPEN = 4.0  # a Fourier gate's initial logit: sigmoid(4) = 0.98
ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "softplus": nn.Softplus, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(f"model.activation={name!r} is not known; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def check_sizes(**sizes) -> None:
    """Refuse, in one line naming ``model.<name>``, a size of the network that is not a whole number ≥ 1."""
    for name, value in sizes.items():
        check_number(f"model.{name}", value, "≥ 1", whole=True)


def check_embedding(emb_dim) -> None:
    """The time embedding is sin and cos of emb_dim / 2 frequencies: a whole, even number."""
    check_number("model.emb_dim", emb_dim, "≥ 2", whole=True)
    if emb_dim % 2:
        raise ConfigError(f"model.emb_dim={emb_dim} must be even (sin and cos of each frequency), e.g. 64")


def mlp(sizes: list[int], act: str) -> nn.Sequential:
    """Linear layers between consecutive ``sizes``, each followed by the activation."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation(act)]
    return nn.Sequential(*layers)


class SinusoidalEmbedding(nn.Module):
    """sin/cos of t at geometric frequencies, t rescaled to 0..1000 so that any T gets the same resolution."""

    def __init__(self, dim: int, T: int):
        super().__init__()
        check_embedding(dim)
        half = dim // 2
        self.scale = 1000.0 / T
        self.register_buffer("freqs", torch.exp(-math.log(10000.0) * torch.arange(half) / half))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = (t.float() * self.scale)[:, None] * self.freqs
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class FourierFeatures(nn.Module):
    """x with sin/cos(2^k·π·x) for k = 0..octaves−1 (VDM's Fourier features): lets an MLP resolve detail down to
    2^−octaves of the data's unit scale, e.g. a manifold thinner than the reverse step's noise."""

    def __init__(self, octaves: int):
        super().__init__()
        if not isinstance(octaves, int) or octaves < 0:
            raise ConfigError(f"model.fourier_octaves={octaves} must be a whole number ≥ 0 (0: x alone)")
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(octaves), persistent=False)

    def out_dim(self, in_dim: int) -> int:
        return in_dim * (1 + 2 * len(self.freqs))

    def forward(self, x: torch.Tensor, gates: torch.Tensor | None = None) -> torch.Tensor:
        """``gates`` (N, octaves), if given, scale each octave's sin and cos."""
        arg = x[..., None] * self.freqs
        waves = torch.stack([torch.sin(arg), torch.cos(arg)])
        if gates is not None:
            waves = waves * gates[:, None, :]
        return torch.cat([x, waves[0].flatten(1), waves[1].flatten(1)], dim=-1)


class TimeMLP(nn.Module):
    """[features(x_t), emb(t)] → ``layers`` hidden layers of ``hidden`` units → out_dim. The readout starts at zero.
    The features are x_t itself, with ``fourier_octaves`` > 0 also its Fourier features; with ``fourier_gates``
    each octave is scaled by a gate in (0, 1) learned from t (starting open), so that an octave finer than the noise
    at t, which carries only noise there, can be shut where it is."""

    def __init__(self, in_dim: int, out_dim: int, T: int, hidden: int = 256, layers: int = 3, emb_dim: int = 64,
                 activation: str = "silu", fourier_octaves: int = 0, fourier_gates: bool = False):
        super().__init__()
        check_sizes(hidden=hidden, layers=layers)
        check_embedding(emb_dim)
        self.embed = SinusoidalEmbedding(emb_dim, T)
        self.features = FourierFeatures(fourier_octaves)
        self.body = mlp([self.features.out_dim(in_dim) + emb_dim] + [hidden] * layers, activation)
        self.readout = nn.Linear(hidden, out_dim)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)
        self.gates = None
        if not isinstance(fourier_gates, bool):
            raise ConfigError(f"model.fourier_gates={fourier_gates!r} must be true or false")
        if fourier_gates:
            if not fourier_octaves:
                raise ConfigError("model.fourier_gates=true gates the Fourier features: set model.fourier_octaves > 0")
            self.gates = nn.Linear(emb_dim, fourier_octaves)  # made last: the other layers start as without it
            nn.init.zeros_(self.gates.weight)
            nn.init.constant_(self.gates.bias, GATE_OPEN)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.embed(t)
        gates = torch.sigmoid(self.gates(emb)) if self.gates is not None else None
        h = torch.cat([self.features(x.flatten(1), gates), emb], dim=-1)
        return self.readout(self.body(h)).view(len(x), -1)
