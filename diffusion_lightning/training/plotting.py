"""Pure matplotlib figures (no I/O): the caller saves or logs them. Drawn on ``matplotlib.figure.Figure``, without
pyplot, so that importing this module chooses no backend for the process and a figure is freed with its last
reference."""

import torch
from matplotlib.figure import Figure


Limits = list[list[float]] | None  # [[x_min, x_max], [y_min, y_max]] of a 2-D panel; None: ±2.5 on both axes


def _panel(ax, x: torch.Tensor, kind: str, title: str, limits: Limits = None) -> None:
    if kind == "binary":
        ax.imshow(x[:40].cpu().numpy(), cmap="Greys", aspect="auto", interpolation="nearest", vmin=0, vmax=1)
        ax.set_yticks([])
    else:
        (x_min, x_max), (y_min, y_max) = limits or [[-2.5, 2.5], [-2.5, 2.5]]
        ax.scatter(*x[:, :2].cpu().T.numpy(), s=1, alpha=0.4)
        ax.set_xlim(x_min, x_max)
        ax.set_ylim(y_min, y_max)
        ax.set_box_aspect(1)  # square panels, whatever the axes' units
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def frames_figure(frames: dict[int, torch.Tensor], kind: str, symbol: str, limits: Limits = None) -> Figure:
    """One panel per step, e.g. q(x_0), q(x_10), … (the slides' forward-process picture)."""
    steps = sorted(frames)
    fig = Figure(figsize=(1.8 * len(steps), 2.2))
    axes = fig.subplots(1, len(steps), squeeze=False)
    for ax, t in zip(axes[0], steps):
        _panel(ax, frames[t], kind, f"${symbol}(x_{{{t}}})$", limits)  # mathtext: q(x₁₀)
    fig.tight_layout()
    return fig


def samples_figure(samples: torch.Tensor, data: torch.Tensor, kind: str) -> Figure:
    """Generated samples beside (binary) or over (continuous) held-out data."""
    if kind == "binary":
        fig = Figure(figsize=(8, 4))
        axes = fig.subplots(1, 2)
        _panel(axes[0], data, kind, "held-out data")
        _panel(axes[1], samples, kind, "generated")
    else:
        fig = Figure(figsize=(4, 4))
        ax = fig.subplots()
        ax.scatter(*data[:, :2].cpu().T.numpy(), s=1, alpha=0.3, label="held-out data", color="grey")
        ax.scatter(*samples[:, :2].cpu().T.numpy(), s=1, alpha=0.5, label="samples", color="C1")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", markerscale=8, fontsize=8)
    fig.tight_layout()
    return fig


def curves_figure(train: list[dict[str, float]], val: list[dict[str, float]]) -> Figure:
    """Training loss and bound estimate (log scale where positive), and the validation bound (exact up to
    ``val_strata`` steps, else a stratified estimate)."""
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots(1, 2)
    if train:
        steps = [r["step"] for r in train]
        axes[0].plot(steps, [r["train/loss"] for r in train], label="train/loss")
        axes[0].set_yscale("symlog")
        axes[1].plot(steps, [r["train/bound_bits"] for r in train], alpha=0.4, label="train bound (one t)")
    if val:
        axes[1].plot([r["step"] for r in val], [r["val/nll_bound_bits"] for r in val], "o-", label="val/nll_bound_bits")
        truth = [r["val/true_nll_bits"] for r in val if "val/true_nll_bits" in r]
        if truth:
            axes[1].axhline(truth[-1], color="k", ls="--", label="true NLL")
        lo = min(r["val/nll_bound_bits"] for r in val)
        axes[1].set_ylim(lo - 0.5, lo + 5)
    for ax, label in zip(axes, ("loss", "bits")):
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def bound_per_t_figure(per_t: torch.Tensor) -> Figure:
    """Where the bound sits: each term L_{t−1} (index 0: the prior term L_T), in bits."""
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.plot(range(1, len(per_t)), per_t[1:].numpy(), lw=1)
    ax.set_xlabel("t")
    ax.set_ylabel("$L_{t-1}$ (bits)")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_title(f"prior term $L_T$ = {float(per_t[0]):.2g} bits", fontsize=9)
    fig.tight_layout()
    return fig


def schedule_figure(initial: torch.Tensor, learned: torch.Tensor) -> Figure:
    """A learned schedule against the one it started from: β_t, and log SNR(t) = log(ᾱ_t/(1−ᾱ_t))."""
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots(1, 2)
    t = range(1, len(initial) + 1)
    for betas, style, label in ((initial, "--", "initial"), (learned, "-", "learned")):
        log_alpha_bar = torch.cumsum(torch.log1p(-betas.double().cpu()), 0)
        axes[0].plot(t, betas.cpu().numpy(), style, label=label)
        axes[1].plot(t, (log_alpha_bar - torch.log(-torch.expm1(log_alpha_bar))).numpy(), style, label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel(r"$\beta_t$")
    axes[1].set_ylabel(r"$\log\,\mathrm{SNR}(t)$")
    for ax in axes:
        ax.set_xlabel("t")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
