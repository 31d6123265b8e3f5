"""1. Framework overhead: training steps per second of the product's loop (``build`` + ``trainer.fit`` as
configured by default; no logger, evaluating callbacks and validation off) against a bare PyTorch loop doing the
same work per step (``loops.BareLoop``), interleaved block by block in one process so both see the same load.

A last line times the bare loop with PyTorch's NVML-based CUDA check on (as ``import lightning`` sets it) and as
the product runs it (``diffusion_lightning/training/environment.py`` turns the check off where no NVIDIA driver is installed).
"""

import os
import statistics
from collections.abc import Iterator

from .common import load, quiet
from .loops import BareLoop, side_by_side

SIZES = {"full": {"warmup": 200, "block": 100, "pairs": 10, "extra": []},
         "quick": {"warmup": 10, "block": 10, "pairs": 2, "extra": ["model.hidden=16"]}}
# The default config, and a tiny MLP at batch 128, where the per-step overhead weighs most.
CONFIGS = {"default": [], "tiny_mlp": ["data.batch_size=128", "model.hidden=32", "model.layers=2"]}
NVML = "PYTORCH_NVML_BASED_CUDA_CHECK"


def run(size: str) -> Iterator[dict]:
    quiet()
    s = SIZES[size]
    bare: list[BareLoop] = []

    def make_bare(cfg, datamodule, module):
        bare.append(BareLoop(cfg, datamodule, module))
        return lambda: bare[-1].run(s["block"])

    for name, overrides in CONFIGS.items():
        result = side_by_side([*overrides, *s["extra"]], make_bare, s["warmup"], s["block"], s["pairs"])
        cfg = result["cfg"]
        yield {"bench": "overhead", "config": name, "batch_size": cfg.data.batch_size,
               "net": f"{cfg.model.layers}x{cfg.model.hidden}", "lightning_steps_per_s": result["steps_per_s"],
               "bare_steps_per_s": result["other_steps_per_s"], "ratio": result["ratio"], "pairs": result["pairs"],
               "block": s["block"], "load": load()}
    yield {"bench": "overhead", "config": "nvml_check", **nvml_effect(bare[-1], s["block"], s["pairs"]),
           "pairs": s["pairs"], "block": s["block"], "load": load()}


def nvml_effect(bare: BareLoop, block: int, pairs: int) -> dict:
    """Bare-loop steps per second with the NVML-based CUDA check on, and with this process's setting, alternating."""
    setting = os.environ.get(NVML, "0")
    times: dict[str, list[float]] = {"1": [], setting: []}
    try:
        for _ in range(pairs):
            for value, runs in times.items():
                os.environ[NVML] = value
                runs.append(bare.run(block))
    finally:
        os.environ[NVML] = setting
    on, now = statistics.median(times["1"]), statistics.median(times[setting])
    return {"nvml_check_now": setting, "bare_steps_per_s_check_on": 1 / on, "bare_steps_per_s_now": 1 / now,
            "speedup": on / now}
