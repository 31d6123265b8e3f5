"""Process settings that the entry points (``train.py``, ``python -m diffusion_lightning.bench``) make by calling
``configure()`` first, before anything loads torch or Lightning; importing the package changes nothing.

1. OpenMP's wait policy. Between parallel regions torch's OpenMP threads spin by default: the fastest choice when
   the run has the cores to itself, and a disaster when another busy process shares them (two default runs at
   once on 2 cores: each about 5× slower than alone, see ``bench threads``). Where other processes keep at least
   half a core (or a quarter of the cores) busy when ``configure`` runs, threads wait passively instead (``OMP_WAIT_POLICY=PASSIVE``: about
   1.7× slower alone, unharmed by company), and ``OMP_AUTO_PASSIVE`` holds the busy cores seen, for the run to
   report. A policy set in the environment is left alone. The runtime reads it when torch loads, so this only
   applies before (``configure`` leaves it alone once torch is loaded).
2. ``import lightning`` sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, so that ``torch.cuda.is_available()`` asks NVML
   instead of initialising CUDA (which would break forked workers). Without an NVIDIA driver, NVML cannot load,
   PyTorch retries loading it at every call, and Adam calls it at every optimizer step: with PyPI's CUDA build of
   torch on a CPU-only host that costs a sizeable part of a small step. Where the library cannot load there is
   no CUDA state to protect, so the check goes back to PyTorch's default.
3. glibc's malloc serves a block of 128 KiB or more with a fresh ``mmap``. It then raises that threshold to the
   largest block freed, but gives the free memory at the top of its heap back to the system whenever it exceeds
   twice the threshold. An evaluation batch's activations (8192 × 256 floats: 8 MiB each) thus keep arriving as
   new pages that the kernel faults in and zeroes: about 24,000 page faults per four batches of the default MLP.
   The thresholds are raised to 32 MiB (mmap) and 256 MiB (trim) with ``mallopt``, as ``MALLOC_MMAP_THRESHOLD_``
   and ``MALLOC_TRIM_THRESHOLD_`` would at start-up (either one set in the environment leaves glibc's choice):
   freed blocks are reused, the values are the same, and the exact bound at T = 1000 takes a sixth less time.
4. Lightning warns that under manual optimization a checkpoint at global step k is not the state before the k-th
   step; it holds the state after k steps, which is what resuming needs, so the warning is silenced.

``python -m diffusion_lightning.bench threads overhead bound`` measures 1.–3. (see BENCHMARKS.md).
"""

import ctypes
import logging
import os
import sys
import time
import warnings
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (``-m``), under whichever launcher."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def busy_cores(interval: float = 0.2) -> float | None:
    """How many of this process's cores (its CPU affinity) the machine keeps busy over ``interval`` seconds, from
    Linux's ``/proc/stat``; None elsewhere."""
    cores = {f"cpu{i}" for i in os.sched_getaffinity(0)} if hasattr(os, "sched_getaffinity") else set()

    def sample() -> tuple[int, int]:
        total = idle = 0
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name in cores:
                ticks = [int(x) for x in fields[:8]]  # user … steal; guest time is counted in user already
                total, idle = total + sum(ticks), idle + ticks[3] + ticks[4]  # idle, iowait
        return total, idle

    try:
        total, idle = sample()
        time.sleep(interval)
        total_now, idle_now = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total_now <= total:
        return None
    return (1 - (idle_now - idle) / (total_now - total)) * len(cores)


OMP_AUTO_PASSIVE: float | None = None  # the busy cores seen when ``configure`` chose passive waiting
CHECKED = "DIFFUSION_LIGHTNING_OMP_CHECKED"  # set once decided: DDP ranks and sweep workers inherit the decision
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
log = logging.getLogger("diffusion_lightning")


def nvml_loads() -> bool:
    """Whether the NVML library PyTorch's check opens (libnvidia-ml.so.1) can be loaded here."""
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3)'s parameters
MMAP_THRESHOLD = 32 << 20  # glibc's largest on 64-bit hosts
TRIM_THRESHOLD = 256 << 20  # free memory kept at the top of the heap before any is given back


def keep_freed_blocks() -> bool:
    """Raise glibc's mmap and trim thresholds (3.); False where they are left alone (set in the environment, or
    another C library)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


MANUAL_OPTIMIZATION_CHECKPOINT = "Using ModelCheckpoint with manual optimization"  # Lightning's warning (4.)


def configure() -> None:
    """Choose OpenMP's wait policy (1.), PyTorch's CUDA check (2.) and malloc's thresholds (3.) for this process
    (the first two also for its children), and silence a warning that does not apply (4.)."""
    global OMP_AUTO_PASSIVE
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ and CHECKED not in os.environ:
        busy = busy_cores()
        if busy is not None and busy >= max(0.5, 0.25 * len(os.sched_getaffinity(0))):
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            OMP_AUTO_PASSIVE = busy
        os.environ[CHECKED] = "1"
    keep_freed_blocks()
    import lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK; corrected below)

    if os.environ.get(NVML_CHECK) == "1" and not nvml_loads():
        os.environ[NVML_CHECK] = "0"
    warnings.filterwarnings("ignore", MANUAL_OPTIMIZATION_CHECKPOINT, UserWarning)


def report_passive_threads() -> None:
    """Say once in the run's log when ``configure`` made threads wait passively, and why."""
    if OMP_AUTO_PASSIVE is not None:
        log.warning(f"other processes kept {OMP_AUTO_PASSIVE:.1f} of {os.cpu_count()} cores busy at start: "
                    "torch's threads wait passively (OMP_WAIT_POLICY=PASSIVE), so runs sharing cores do not slow "
                    "each other several times over, at ~1.7× the cost of a run alone; set OMP_WAIT_POLICY to choose "
                    "(see docs/performance.md)")
