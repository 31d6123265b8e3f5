"""5. Exact bound: wall time of ``process.bound`` (every t evaluated) on the Swiss roll (T = 1000, its 10^4 test
points) and the heartbeat (``experiment=heartbeat_paper``, T = 2000, its test split).
7. Sampling: wall time of ``process.sample`` for 10^4 Swiss roll samples at T = 1000.

Both use the network the config builds (untrained: the cost does not depend on the weights), evaluated as the
product evaluates it (the EMA copy); settings are interleaved over ``repeats`` and the medians reported."""

import statistics
import time
from collections.abc import Iterator

import torch

from ..training.run import build
from .common import compose_cfg, load, quiet

BOUND = {"full": {"swiss_roll": ["T=1000", "data.n_test=10000"], "heartbeat": ["experiment=heartbeat_paper"],
                  "repeats": 3},
         "quick": {"swiss_roll": ["T=10", "data.n_test=200", "model.hidden=16"],
                   "heartbeat": ["experiment=heartbeat_paper", "T=10", "data.n_test=100"], "repeats": 1}}
SAMPLING = {"full": {"overrides": ["T=1000"], "n": 10_000, "repeats": 3},
            "quick": {"overrides": ["T=10", "model.hidden=16"], "n": 200, "repeats": 1}}


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def run_bound(size: str) -> Iterator[dict]:
    quiet()
    s = BOUND[size]
    setups = {}
    for data in ("swiss_roll", "heartbeat"):
        cfg = compose_cfg(*s[data])
        datamodule, module, _ = build(cfg)
        setups[data] = (cfg.T, module, datamodule.splits["test"])
    times: dict[str, list[float]] = {data: [] for data in setups}
    for _ in range(s["repeats"]):
        for data, (_, module, x0) in setups.items():
            times[data].append(timed(module.process.bound, module.eval_net, x0))
    for data, (T, _, x0) in setups.items():
        yield {"bench": "bound", "data": data, "T": T, "points": len(x0), "wall_s": statistics.median(times[data]),
               "runs_s": [round(t, 2) for t in times[data]], "load": load()}


def run_sampling(size: str) -> Iterator[dict]:
    quiet()
    s = SAMPLING[size]
    cfg = compose_cfg(*s["overrides"])
    datamodule, module, _ = build(cfg)
    shape = (s["n"], *datamodule.shape)
    generator = torch.Generator().manual_seed(0)
    times = [timed(module.process.sample, module.eval_net, shape, (), generator) for _ in range(s["repeats"])]
    yield {"bench": "sampling", "T": cfg.T, "samples": s["n"], "wall_s": statistics.median(times),
           "runs_s": [round(t, 2) for t in times], "load": load()}
