"""What a run leaves in its directory besides checkpoints and figures: ``run_info.json`` (how to rerun it),
``summary.json`` (status and final metrics), ``curves.json`` (training and validation curves),
``bound_per_t.json`` (where the bound is paid) and ``bound_per_point.npz`` (each test point's bound, for paired
comparisons: ``report/paired.py``). Every file is written whole or not at all."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from .files import BOUND_PER_POINT, BOUND_PER_T, CURVES, SUMMARY, written_whole


def write_json(path: Path, obj) -> None:
    """Write whole or not at all: a reader never sees a half-written file."""
    with written_whole(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


def run_info() -> dict:
    """What is needed to rerun: the command, package versions and the git commit (when there is one)."""
    import lightning

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"command": [sys.executable, *sys.argv], "diffusion_lightning": __version__, "git_commit": commit,
            "torch": torch.__version__, "lightning": lightning.__version__, "python": sys.version.split()[0],
            "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def test_points_digest(points: torch.Tensor) -> str:
    """A fingerprint of a test split: two runs can be paired point by point only when theirs are equal."""
    return hashlib.sha256(points.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def write_results(out: Path, summary: dict, module) -> None:
    """``summary.json``, and, when the module was built, its curves, the bound per t of its last evaluation
    (index 0 is the prior term L_T, index t the term of step t, in bits) and each test point's bound (bits) with
    the fingerprint of the test split."""
    write_json(out / SUMMARY, summary)
    if module is None:
        return
    write_json(out / CURVES, {"train": module.history, "val": module.val_history})
    if module.per_t_bits is not None:
        bits = module.per_t_bits.tolist()
        write_json(out / BOUND_PER_T, {"t": list(range(len(bits))), "bits": bits})
    if module.test_bits is not None:
        bits, digest = module.test_bits
        with written_whole(out / BOUND_PER_POINT) as tmp:
            np.savez(tmp, bits=bits.double().cpu().numpy(), test_points=np.array(digest))
