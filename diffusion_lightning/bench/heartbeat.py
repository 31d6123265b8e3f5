"""4. Heartbeat at T = 2000 (``experiment=heartbeat_paper``): the product's training step, one random t per example,
against the user's approach of evaluating all T steps in every batch (``loops.AllStepsLoop``), side by side in
one process: every ``block`` steps of ``trainer.fit`` are followed by one step of the reference."""

from collections.abc import Iterator

from .common import load, quiet
from .loops import AllStepsLoop, side_by_side

SIZES = {"full": {"warmup": 50, "block": 100, "pairs": 3, "extra": []},
         "quick": {"warmup": 10, "block": 10, "pairs": 2, "extra": ["T=20", "data.n_train=512"]}}


def run(size: str) -> Iterator[dict]:
    quiet()
    s = SIZES[size]

    def make_reference(cfg, datamodule, module):
        reference = AllStepsLoop(cfg, datamodule, module)
        return lambda: reference.run(1)

    result = side_by_side(["experiment=heartbeat_paper", *s["extra"]], make_reference, s["warmup"], s["block"],
                          s["pairs"])
    cfg = result["cfg"]
    yield {"bench": "heartbeat", "T": cfg.T, "batch_size": cfg.data.batch_size, "step_ms": 1e3 / result["steps_per_s"],
           "all_T_step_s": 1 / result["other_steps_per_s"], "speedup": result["ratio"], "pairs": result["pairs"],
           "load": load()}
