"""A run loaded for use (``load_run``): scoring its test split with ``Run.nll_bound`` against the run's own test bound
(``trainer.test``, as ``train.py`` computes it: the same estimator, batches and seeds), and drawing as many samples
with ``Run.sample``; each as wall time and points·steps per second (points × T / wall). Default config (T = 100, the
Swiss roll's 10^4 test points), untrained weights (the cost does not depend on them) written as a run directory;
the three are interleaved over ``repeats`` and the medians reported."""

import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from omegaconf import OmegaConf

from ..inference import load_run
from ..training.files import CONFIG, LAST_CHECKPOINT
from ..training.run import build
from .common import compose_cfg, load, quiet
from .evaluation import timed

SIZES = {"full": {"overrides": [], "repeats": 3}, "quick": {"overrides": ["T=10", "data.n_test=200"], "repeats": 1}}


def as_run_checkpoint(directory: Path, cfg, module) -> Path:
    """The module's weights and the config, laid out as a run leaves them; the checkpoint's path."""
    (directory / CONFIG).parent.mkdir(parents=True)
    OmegaConf.save(cfg, directory / CONFIG)
    (directory / LAST_CHECKPOINT).parent.mkdir(parents=True)
    torch.save({"state_dict": module.state_dict(), "global_step": 0}, directory / LAST_CHECKPOINT)
    return directory / LAST_CHECKPOINT


def run(size: str) -> Iterator[dict]:
    quiet()
    s = SIZES[size]
    cfg = compose_cfg(*s["overrides"])
    datamodule, module, trainer = build(cfg)
    with tempfile.TemporaryDirectory(prefix="bench_run_") as directory:
        loaded = load_run(as_run_checkpoint(Path(directory), cfg, module))
        test = loaded.test_split()
        n, T = len(test), loaded.T
        work = {"test_bound": lambda: trainer.test(module, datamodule=datamodule, verbose=False),
                "nll_bound": lambda: loaded.nll_bound(test), "sample": lambda: loaded.sample(n, seed=0)}
        times: dict[str, list[float]] = {name: [] for name in work}
        for _ in range(s["repeats"]):
            for name, fn in work.items():
                times[name].append(timed(fn))
    for name, runs in times.items():
        wall = statistics.median(runs)
        yield {"bench": "loaded_run", "what": name, "T": T, "points": n, "wall_s": wall,
               "runs_s": [round(t, 2) for t in runs], "points_steps_per_s": round(n * T / wall), "load": load()}
