"""An affine standardisation of points, z = (x − μ)/σ per coordinate, with μ and σ taken from the training split.

The model sees z. A density of z is a density of x by the change of variables p_x(x) = p_z(z)·∏_j 1/σ_j, so
−log₂ p_x(x) = −log₂ p_z(z) + Σ_j log₂ σ_j: a bound on z's bits plus ``log_det_bits`` = Σ_j log₂ σ_j bounds x's bits,
in the data's own units. Runs with and without standardisation (or with other files' σ) therefore compare."""

from dataclasses import dataclass

import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class Standardisation:
    mean: torch.Tensor  # μ, float64 [d]
    std: torch.Tensor  # σ, float64 [d]

    @classmethod
    def identity(cls, dim: int) -> "Standardisation":
        """No standardisation: z = x, 0 bits."""
        return cls(torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64))

    @classmethod
    def fit(cls, x: torch.Tensor, source: str) -> "Standardisation":
        """Each coordinate's mean and standard deviation over the rows of ``x`` (the training split of ``source``);
        a constant coordinate has no spread to divide by and is refused."""
        x = x.double()
        mean, std = x.mean(0), x.std(0, correction=0)
        constant = (std == 0).nonzero().flatten().tolist()
        if constant:
            raise ConfigError(f"{source}: column {constant[0] + 1} holds one value ({float(mean[constant[0]]):g}) in "
                              "every training row, so it has no spread to standardise by and no density; drop that "
                              "column")
        return cls(mean, std)

    @property
    def log_det_bits(self) -> float:
        """Σ_j log₂ σ_j: the bits per point that turn a bound on z into a bound on x."""
        return float(torch.log2(self.std).sum())

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """z = (x − μ)/σ, in float32 (the model's dtype)."""
        return ((x.double() - self.mean.to(x.device)) / self.std.to(x.device)).float()

    def to_data(self, z: torch.Tensor) -> torch.Tensor:
        """x = μ + σ·z, in z's dtype: samples and figures in the data's own units."""
        return (self.mean.to(z.device) + self.std.to(z.device) * z.double()).to(z.dtype)

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "log_det_bits": self.log_det_bits}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardisation":
        """The standardisation ``as_dict`` wrote (``run_info.json``'s ``data.standardisation``)."""
        return cls(torch.tensor(d["mean"], dtype=torch.float64), torch.tensor(d["std"], dtype=torch.float64))
