"""OpenMP threads: the bare training loop (``loops.BareLoop``, default config) in fresh processes, alone and two at
once, under OpenMP's default wait policy (threads spin a while between parallel regions), under
``OMP_WAIT_POLICY=PASSIVE`` (they sleep), with one thread per process (what the joblib launcher gives each of its
parallel jobs: cores // n_jobs), and as the package chooses (``_env``: passive where other processes keep the
cores busy at start). The runtime reads the policy when torch loads, hence one process per figure; an empty
``OMP_WAIT_POLICY`` is OpenMP's default, and keeps the package from choosing."""

import multiprocessing
import os
import statistics
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from .common import compose_cfg, load, quiet

# settings: (processes at once, OMP_WAIT_POLICY: "" OpenMP's default, None the package's choice; torch threads,
# None: one per core)
SIZES = {"full": {"warmup": 100, "steps": 1000, "extra": [],
                  "settings": [(1, "", None), (1, "PASSIVE", None), (1, "", 1), (1, None, None),
                               (2, "", None), (2, "PASSIVE", None), (2, "", 1), (2, None, None)]},
         "quick": {"warmup": 2, "steps": 5, "extra": ["model.hidden=16", "data.n_train=2000"],
                   "settings": [(2, None, 1)]}}


def bare_steps_per_s(size: str, threads: int | None) -> tuple[float, str]:
    """Steps per second of the bare loop in this (fresh) process, and the wait policy it ran under."""
    import torch

    from ..train import build
    from .loops import BareLoop

    if threads:
        torch.set_num_threads(threads)
    quiet()
    s = SIZES[size]
    cfg = compose_cfg(*s["extra"])
    datamodule, module, _ = build(cfg)
    loop = BareLoop(cfg, datamodule, module)
    loop.run(s["warmup"])
    return 1 / loop.run(s["steps"]), os.environ.get("OMP_WAIT_POLICY") or "default"


def run(size: str) -> Iterator[dict]:
    context = multiprocessing.get_context("spawn")
    policy = os.environ.get("OMP_WAIT_POLICY")
    for at_once, setting, threads in SIZES[size]["settings"]:
        os.environ.pop("OMP_WAIT_POLICY", None)
        if setting is not None:
            os.environ["OMP_WAIT_POLICY"] = setting
        try:
            with ProcessPoolExecutor(at_once, mp_context=context) as pool:
                rates, used = zip(*pool.map(bare_steps_per_s, [size] * at_once, [threads] * at_once))
        finally:
            os.environ.pop("OMP_WAIT_POLICY", None)
            if policy:
                os.environ["OMP_WAIT_POLICY"] = policy
        named = {"": "default", None: "package's choice"}.get(setting, setting)
        yield {"bench": "threads", "runs_at_once": at_once, "omp_wait_policy": named, "policy_used": list(used),
               "torch_threads": threads or os.cpu_count(), "bare_steps_per_s": statistics.median(rates),
               "per_run": [round(r, 1) for r in rates], "load": load()}
