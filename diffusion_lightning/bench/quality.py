"""6. Time to quality: wall time of the product's training loop until the exact validation bound first comes within
0.1 bits of the run's final bound (the bound at its last step), for the default Swiss roll run, the user's Swiss
roll experiment (10^4 points) and ``experiment=heartbeat_paper``.

Each run is the product's, as configured, except that the bound is validated every ``every`` steps (to resolve
the curve) and the evaluating callbacks are off; training time excludes validation time."""

import time
from collections.abc import Iterator

import lightning as L

from ..training.run import build
from .common import compose_cfg, load, quiet

TOLERANCE_BITS = 0.1
RUNS = {"swiss_roll": [], "swiss_roll_10k": ["data.n_train=10000"], "heartbeat_paper": ["experiment=heartbeat_paper"]}
EXACT = ["val_strata=null"]  # every validation exact: the time to quality is read off the validation bound
SIZES = {"full": {"every": 1000, "extra": []},
         "quick": {"every": 5, "extra": ["trainer.max_steps=10", "T=10", "data.n_train=1000", "data.n_val=100",
                                   "data.n_test=100"]}}


class BoundClock(L.Callback):
    """Training time (validation excluded) and the validation bound at every validation."""

    def __init__(self):
        self.curve: list[tuple[int, float, float]] = []  # (step, training seconds, bound bits)
        self.start = self.val_start = 0.0
        self.val_seconds = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_validation_start(self, trainer, pl_module) -> None:
        self.val_start = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        train_s = self.val_start - self.start - self.val_seconds
        self.val_seconds += time.perf_counter() - self.val_start
        self.curve.append((trainer.global_step, train_s, float(trainer.callback_metrics["val/nll_bound_bits"])))


def time_to_quality(overrides: list[str], every: int) -> dict:
    cfg = compose_cfg(*overrides, *EXACT, f"trainer.val_check_interval={every}", validation=True)
    datamodule, module, trainer = build(cfg)
    clock = BoundClock()
    trainer.callbacks.append(clock)
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    wall = time.perf_counter() - start
    final_step, train_s, final = clock.curve[-1]
    step, seconds, bound = next(point for point in clock.curve if point[2] <= final + TOLERANCE_BITS)
    return {"T": cfg.T, "n_train": len(datamodule.splits["train"]), "steps": final_step, "final_bound_bits": final,
            "train_s_to_quality": seconds, "steps_to_quality": step, "bound_at_quality_bits": bound,
            "train_s_total": train_s, "fit_wall_s": wall}


def run(size: str) -> Iterator[dict]:
    quiet()
    s = SIZES[size]
    for name, overrides in RUNS.items():
        yield {"bench": "quality", "run": name, **time_to_quality([*overrides, *s["extra"]], s["every"]), "load": load()}
