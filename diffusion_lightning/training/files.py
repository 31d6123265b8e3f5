"""The names of the files a run leaves in its directory: written by this layer (``outputs``, ``run``,
``checkpointing``, ``callbacks``), read by the sweep tools. Plain names, so that their readers load neither torch
nor Lightning; and ``written_whole``, how every one of them is written."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUN_INFO = "run_info.json"  # how to rerun it, written first
SUMMARY = "summary.json"  # its status and final metrics, written last
CURVES = "curves.json"  # training and validation curves
BOUND_PER_T = "bound_per_t.json"  # where the bound is paid
BOUND_PER_POINT = "bound_per_point.npz"  # each test point's bound, for paired comparisons
LAST_CHECKPOINT = "checkpoints/last.ckpt"  # under the run directory, as conf/callbacks/default.yaml puts it
BEST_CHECKPOINT = "checkpoints/best.ckpt"  # the lowest validation bound (conf/callbacks/default.yaml)
CONFIG = ".hydra/config.yaml"  # the composed config, as Hydra keeps it


def sidecar(checkpoint: Path) -> Path:
    """The JSON beside a checkpoint (``last.ckpt`` → ``last.json``) with its ``global_step`` and ``epoch``, which the
    sweep tools read instead of the checkpoint."""
    return checkpoint.with_suffix(".json")


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so that writers that read the format from it still do) to
    write to; renamed onto ``path`` when the block ends, removed if it raises: a reader sees the old file or the new
    one whole, never half of one, whenever the writer is killed."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
