"""Process settings the package makes on import, before anything else imports Lightning.

``import lightning`` sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, so that ``torch.cuda.is_available()`` asks NVML
instead of initialising CUDA (which would break forked workers). Without an NVIDIA driver, NVML cannot load, and
PyTorch then retries loading it at every call, and Adam calls it at every optimizer step: with the PyPI (CUDA)
build of torch on a CPU-only host that costs about a fifth of a small training step. Where the NVML library
cannot load there is no driver, hence no CUDA state to protect: the check is switched back to PyTorch's default.
"""

import ctypes
import os

import lightning  # noqa: F401  (sets the variable; it is corrected below)

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
