"""The report's PNGs: every job's bound curves overlaid, and a grid of one figure per job (samples, q(x_t), p(x_t)),
best first, so that the slides' side-by-side pictures come out of a sweep without hand work. Drawn on
``matplotlib.figure.Figure`` (no pyplot, no global backend)."""

import textwrap
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ...training.files import written_whole
from ..jobs import Job
from .sweep import Sweep

GRIDS = {"samples_grid": "samples", "forward_grid": "forward_process", "reverse_grid": "reverse_process"}


def label(job: Job, keys: list[str]) -> str:
    """What sets a job apart from the others, e.g. ``optimizer=sgd, optimizer.lr=0.0001``."""
    return ", ".join(f"{k}={job.config[k]}" for k in keys if k in job.config) or f"job {job.num}"


def smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Moving average (the training bound is a one-t, one-batch estimate, too noisy to compare raw)."""
    width = max(1, min(width, len(y)))
    return np.convolve(y, np.ones(width) / width, mode="valid")


def curves_figure(sweep: Sweep) -> Figure:
    """Training bound (smoothed) and validation bound (exact up to ``val_strata`` steps, else a stratified estimate)
    against step, one colour per job in both panels, the legend below them; the validation axis is logarithmic when
    every value is positive, to separate the best."""
    fig = Figure(figsize=(12, 4.5))
    train_ax, val_ax = fig.subplots(1, 2)
    with_curves = [job for job in sweep.jobs if job.curves.get("train") or job.curves.get("val")]
    colours = colormaps["tab10" if len(with_curves) <= 10 else "tab20"]
    shown, val_values = [], []
    for i, job in enumerate(with_curves):
        colour = colours(i % colours.N)
        train = [r for r in job.curves.get("train", []) if "train/bound_bits" in r]
        if train:
            y = smooth(np.array([r["train/bound_bits"] for r in train]), len(train) // 20)
            train_ax.plot([r["step"] for r in train][len(train) - len(y):], y, color=colour, lw=1)
            shown.append(y[len(y) // 10:])
        val = [r for r in job.curves.get("val", []) if "val/nll_bound_bits" in r]
        val_values += [r["val/nll_bound_bits"] for r in val]
        train_ax.plot([], [], "o-", color=colour, ms=3,
                      label=label(job, sweep.keys) + ("" if job.status == "finished" else f" ({job.status})"))
        val_ax.plot([r["step"] for r in val], [r["val/nll_bound_bits"] for r in val], "o-", color=colour, ms=3)
    for ax, title in ((train_ax, "train bound, bits (one t per example, smoothed)"),
                      (val_ax, "val/nll_bound_bits")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3, which="both")
    values = np.concatenate(shown) if shown else np.array([])
    values = values[np.isfinite(values)]
    # the first tenth of training is a transient that would squash every difference that matters
    if values.size and (high := np.percentile(values, 98)) > (low := values.min()):
        train_ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    if val_values and min(val_values) > 0:
        val_ax.set_yscale("log")
    fig.tight_layout()
    if with_curves:
        fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0), ncol=min(3, len(with_curves)), fontsize=8,
                   frameon=False)
    return fig


def image_grid(sweep: Sweep, name: str) -> Figure:
    """Each job's ``figures/<name>.png`` as one panel, best first; a job without it gets a panel saying why.
    Wide figures (a row of q(x_t) frames) stack in one column, heartbeat rasters go two to a row, square ones four."""
    jobs = sweep.jobs
    images = {job.num: np.asarray(image) for job in jobs if (image := job.picture(name))}
    shapes = [image.shape for image in images.values()]
    aspect = shapes[0][1] / shapes[0][0] if shapes else 1.0
    panel_width = 14 if aspect > 2.5 else 7 if aspect > 1.5 else 3.6   # inches; rows about 14 wide
    ncols = min(len(jobs), round(14 / panel_width))
    nrows = -(-len(jobs) // ncols)
    fig = Figure(figsize=(panel_width * ncols, (panel_width / aspect + 0.8) * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, job in zip(axes.flat, jobs):
        score = job.summary.get(sweep.metric)
        title = textwrap.fill(label(job, sweep.keys), int(panel_width * 12))
        title += f"\n{sweep.metric} = {score:.4g}" if isinstance(score, (int, float)) else ""
        if job.num in images:
            ax.imshow(images[job.num])
        else:
            file = f"figures/{name}.png"
            reason = (job.note if job.status != "finished" else f"{file} cannot be read" if file in job.unreadable
                      else f"no {file}")
            ax.text(0.5, 0.5, f"{job.status}\n{reason[:200]}", ha="center", va="center", wrap=True, fontsize=8,
                    color="firebrick", transform=ax.transAxes)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def write_pngs(sweep: Sweep, out: Path) -> None:
    """``curves.png`` and the three image grids into ``out``."""
    figures = {"curves": curves_figure(sweep)} | {grid: image_grid(sweep, name) for grid, name in GRIDS.items()}
    for name, fig in figures.items():
        with written_whole(out / f"{name}.png") as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight")
