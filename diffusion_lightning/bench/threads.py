"""OpenMP threads: the bare training loop (``loops.BareLoop``, default config) in fresh processes, alone and two at
once, under OpenMP's default wait policy (threads spin a while between parallel regions), under
``OMP_WAIT_POLICY=PASSIVE`` (they sleep), with one thread per process (what the joblib launcher gives each of its
parallel jobs: cores // n_jobs), and as the package chooses (``environment.configure``: passive where other processes keep the
cores busy when it loads). The runtime reads the policy when torch loads, hence one process per figure; an empty
``OMP_WAIT_POLICY`` is OpenMP's default and keeps the package from choosing.

"joined": a second run starts while a first one (OpenMP's default) is training; both rates are over the second
run's measured steps."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..training import environment
from .common import load

BLOCK = 50  # steps between the marks of the first run of "joined"
SIZES = {"full": {"warmup": 100, "steps": 1000, "extra": []},
         "quick": {"warmup": 2, "steps": 5, "extra": ["model.hidden=16", "data.n_train=2000"]}}
# (how: "alone", "together" (both start at once) or "joined"; OMP_WAIT_POLICY of the measured run(s): "" OpenMP's
# default, None the package's choice; torch threads, None: one per core)
SETTINGS = {"full": [("alone", "", None), ("alone", "PASSIVE", None), ("alone", "", 1), ("alone", None, None),
                     ("together", "", None), ("together", "PASSIVE", None), ("together", "", 1),
                     ("joined", "", None), ("joined", None, None)],
            "quick": [("joined", None, None)]}
# A child waits for a file (10 minutes at most) before it imports anything of the package, so that the package
# looks at the machine when the child is due to start.
LAUNCH = ("import json, sys, time, pathlib; start, t0 = pathlib.Path(sys.argv[1]), time.time(); "
          "[time.sleep(0.05) for _ in iter(lambda: start.exists() or time.time() > t0 + 600, True)]; "
          "from diffusion_lightning.training import environment; environment.configure(); "
          "from diffusion_lightning.bench.threads import child; print(json.dumps(child(*sys.argv[2:])))")


def child(size: str, threads: str, until: str = "") -> dict:
    """The bare loop in this process: steps per second over ``steps`` steps or, with ``until``, perf_counter marks
    every 50 steps until that file exists (the first run of "joined")."""
    import torch

    from ..training.run import build
    from .common import compose_cfg, quiet
    from .loops import BareLoop

    if int(threads):
        torch.set_num_threads(int(threads))
    quiet()
    s = SIZES[size]
    cfg = compose_cfg(*s["extra"])
    datamodule, module, _ = build(cfg)
    loop = BareLoop(cfg, datamodule, module)
    loop.run(s["warmup"])
    policy = os.environ.get("OMP_WAIT_POLICY") or "default"
    if not until:
        return {"steps_per_s": 1 / loop.run(s["steps"]), "policy": policy, "end": time.time()}
    Path(until + ".training").touch()
    marks, block = [], min(BLOCK, s["steps"])
    while not Path(until).exists():
        seconds = loop.run(block) * block
        marks.append((time.time(), seconds))  # (end, duration) of each block
    return {"marks": marks, "block": block, "policy": policy}


def launch(gate: Path, size: str, policy: str | None, threads: int | None, until: str = "") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", environment.CHECKED)}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    return subprocess.Popen([sys.executable, "-c", LAUNCH, str(gate), size, str(threads or 0), until], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    return json.loads(out.strip().splitlines()[-1])


def measure(size: str, how: str, policy: str | None, threads: int | None, tmp: Path) -> tuple[list[float], list[str]]:
    gate = tmp / f"{how}-{policy}-{threads}"
    if how != "joined":
        procs = [launch(gate, size, policy, threads) for _ in range(1 if how == "alone" else 2)]
        gate.touch()
        runs = [result(p) for p in procs]
        return [r["steps_per_s"] for r in runs], [r["policy"] for r in runs]
    stop = tmp / f"{gate.name}.stop"
    first = launch(gate, size, "", threads, until=str(stop))
    second = launch(Path(str(stop) + ".training"), size, policy, threads)
    try:
        gate.touch()
        joined = result(second)
    finally:
        stop.touch()
        second.kill()
    first_run = result(first)
    window = joined["end"] - SIZES[size]["steps"] / joined["steps_per_s"], joined["end"]
    inside = [seconds for end, seconds in first_run["marks"] if window[0] <= end - seconds and end <= window[1]]
    first_rate = first_run["block"] / statistics.median(inside) if inside else float("nan")
    return [first_rate, joined["steps_per_s"]], ["default", joined["policy"]]


def run(size: str) -> Iterator[dict]:
    with tempfile.TemporaryDirectory(prefix="threads_") as tmp:
        for how, policy, threads in SETTINGS[size]:
            rates, used = measure(size, how, policy, threads, Path(tmp))
            named = {"": "default", None: "package's choice"}.get(policy, policy)
            yield {"bench": "threads", "runs": how, "omp_wait_policy": named, "policy_used": used,
                   "torch_threads": threads or os.cpu_count(), "bare_steps_per_s": statistics.median(rates),
                   "per_run": [round(r, 1) for r in rates], "load": load()}
