"""A process setting the package makes on import.

``import lightning`` sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, so that ``torch.cuda.is_available()`` asks NVML
instead of initialising CUDA (which would break forked workers). Without an NVIDIA driver, NVML cannot load,
PyTorch retries loading it at every call, and Adam calls it at every optimizer step: with PyPI's CUDA build of
torch on a CPU-only host that costs a sizeable part of a small step. Where the library cannot load there is no
CUDA state to protect, so the check goes back to PyTorch's default.

``python -m diffusion_lightning.bench overhead`` measures it (see BENCHMARKS.md).
"""

import ctypes
import os

import lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK; corrected below)

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def nvml_loads() -> bool:
    """Whether the NVML library PyTorch's check opens (libnvidia-ml.so.1) can be loaded here."""
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


if os.environ.get(NVML_CHECK) == "1" and not nvml_loads():
    os.environ[NVML_CHECK] = "0"
