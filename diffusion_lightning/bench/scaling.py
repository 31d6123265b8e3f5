"""2-3. Scaling: step time and peak memory of the product's training loop against T (Swiss roll, T = 40, 1000,
10 000) and against the training set (10^4, 10^5, 10^6 Swiss roll points). A step draws one t per example from
an in-memory tensor, so neither should grow.

Step times are measured in this process, the settings interleaved over ``rounds`` (medians). Peak memory is the
peak resident set (ru_maxrss) of one fresh spawned process per setting, all started at once (their timing is not
used), so each figure is that setting's own: interpreter, libraries (about 0.8 GB with PyPI's CUDA build of
torch), data and training; ``fit_peak_growth_mb`` is the peak during ``trainer.fit`` above the memory before it.
``--quick`` measures memory in this process instead, to stay fast.
"""

import multiprocessing
import statistics
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from .common import fit_steps, load, quiet

SIZES = {
    "full": {"T": [40, 1000, 10_000], "n_train": [10_000, 100_000, 1_000_000], "steps": 350, "warmup": 50,
             "block": 50, "rounds": 3, "fresh": True, "extra": []},
    "quick": {"T": [5, 50], "n_train": [1000, 4000], "steps": 30, "warmup": 10, "block": 10, "rounds": 1, "fresh": False,
              "extra": ["model.hidden=16", "data.n_val=100", "data.n_test=100", "data.batch_size=64"]},
}


def scale(bench: str, key: str, path: str, size: str) -> Iterator[dict]:
    """One line per value of ``key`` (the config entry ``path``): median step time over rounds, peak memory, and
    both relative to the first value."""
    quiet()
    s = SIZES[size]
    settings = [[f"{path}={value}", *s["extra"]] for value in s[key]]
    measure_memory = partial(fit_steps, steps=s["warmup"] + 2 * s["block"], warmup=s["warmup"], block=s["block"])
    if s["fresh"]:
        with ProcessPoolExecutor(len(settings), mp_context=multiprocessing.get_context("spawn")) as pool:
            memory = list(pool.map(measure_memory, settings))
    else:
        memory = list(map(measure_memory, settings))
    times: list[list[float]] = [[] for _ in settings]
    for _ in range(s["rounds"]):
        for runs, overrides in zip(times, settings):
            runs.append(fit_steps(overrides, s["steps"], s["warmup"], s["block"])["step_ms"])
    first_ms, first_mb = statistics.median(times[0]), memory[0]["peak_rss_mb"]
    for value, runs, mem in zip(s[key], times, memory):
        step_ms = statistics.median(runs)
        yield {"bench": bench, key: value, "step_ms": step_ms, "step_ms_runs": [round(t, 3) for t in runs],
               "peak_rss_mb": mem["peak_rss_mb"], "fit_peak_growth_mb": mem["fit_peak_growth_mb"],
               "step_vs_first": step_ms / first_ms, "memory_vs_first": mem["peak_rss_mb"] / first_mb, "load": load()}


def run_T(size: str) -> Iterator[dict]:
    return scale("scaling_T", "T", "T", size)


def run_data(size: str) -> Iterator[dict]:
    return scale("scaling_data", "n_train", "data.n_train", size)
