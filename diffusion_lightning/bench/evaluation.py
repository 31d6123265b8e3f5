"""5. Exact bound: wall time of ``process.bound`` (every t evaluated) on the Swiss roll (T = 1000, its 10^4 test
points) and the heartbeat (``experiment=heartbeat_paper``, T = 2000, its test split), with the rate of network
evaluations it reaches: rows per second and GFLOP/s (matmuls and convolutions, counted by torch's
``FlopCounterMode``), beside a bare reference, one 8192 × 256 × 256 matmul's GFLOP/s.
7. Sampling: wall time of ``process.sample`` for 10^4 Swiss roll samples at T = 1000.

Both use the network the config builds (untrained: the cost does not depend on the weights), evaluated as the
product evaluates it (the EMA copy); settings are interleaved over ``repeats`` and the medians reported."""

import statistics
import time
from collections.abc import Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode

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


def flops_per_row(net: torch.nn.Module, x0: torch.Tensor, T: int) -> float:
    """FLOPs of one network evaluation (one row), counted over a batch of the test points."""
    x = x0[:64]
    t = torch.full((len(x),), T)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x, t)
    return counter.get_total_flops() / len(x)


def matmul_gflops(repeats: int = 20) -> float:
    """The bare reference: GFLOP/s of one (8192 × 256) · (256 × 256) float32 matmul, the default MLP's hidden layer
    on one batch of the bound, median over ``repeats``."""
    a, b = torch.randn(8192, 256), torch.randn(256, 256)
    times = [timed(torch.mm, a, b) for _ in range(repeats)]
    return 2 * 8192 * 256 * 256 / statistics.median(times) / 1e9


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
    reference = matmul_gflops()
    for data, (T, module, x0) in setups.items():
        wall = statistics.median(times[data])
        rows_per_s = len(x0) * T / wall
        yield {"bench": "bound", "data": data, "T": T, "points": len(x0), "wall_s": wall,
               "runs_s": [round(t, 2) for t in times[data]], "rows_per_s": round(rows_per_s),
               "net_gflops": round(flops_per_row(module.eval_net, x0, T) * rows_per_s / 1e9, 1),
               "matmul_gflops": round(reference, 1), "load": load()}


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
