"""Resuming a sweep: ``python train.py -m <its overrides> hydra.sweep.dir=<its directory> resume_sweep=true``.

Each job decides from its own directory, inside the job, so that this works under any launcher (basic, joblib,
submitit, Ray): a finished job is kept (not run again; its summary is read back and returned to the sweeper), an
interrupted or killed job resumes from its ``checkpoints/last.ckpt``, a failed or missing one (or one stopped
before its first checkpoint, or whose last.ckpt cannot be loaded: named in one line) runs again from the start,
and one whose summary.json cannot be read is left as it is (named in one line; remove the file to run the job
again). Before any job starts, ``ResumeSweep`` refuses a sweep directory that does not exist or whose jobs another
command made, and says how many jobs are kept, resumed and rerun, naming each file it cannot read. Importing this
module loads neither torch nor Lightning: the callback runs before any job has configured its process."""

import logging
import pickle
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, read_write

from ..training.environment import in_multirun
from .grid import grid_jobs
from .jobs import OVERRIDES, SUMMARY, Job, read_job, read_jobs

log = logging.getLogger(__name__)

KEY = "resume_sweep"
KEEP, RESUME, RERUN, LEAVE = "kept", "resumed", "rerun", "left"


def plan(job: Job | None) -> str:
    """What a resumed sweep does with a job: keep it (finished), resume it (interrupted, or killed, with a
    last.ckpt that loads), rerun it from the start (failed, missing, stopped before its first checkpoint, or with a
    last.ckpt that cannot be loaded), or leave it as it is (its summary cannot be read: it may have finished)."""
    if job is None or job.path is None:
        return RERUN
    if job.status == "finished":
        return KEEP
    if SUMMARY in job.unreadable:
        return LEAVE
    if job.status == "interrupted" and job.last_checkpoint.is_file() and not job.checkpoint_problem:
        return RESUME
    return RERUN


def resumable(task: Callable[[DictConfig], float | None]) -> Callable[[DictConfig], float | None]:
    """``task`` as a job of a sweep that can be resumed: with ``resume_sweep=true`` a finished job is kept (its
    optimized metric returned to the sweeper, not run again) and an interrupted one resumes (``resume_job``)."""

    def job(cfg: DictConfig) -> float | None:
        if cfg.get(KEY) is True:  # another value than true or false is refused by the task, in one line
            kept = resume_job(cfg)
            if kept is not None:
                return kept.get(cfg.get("optimized_metric"))
        return task(cfg)

    return job


def resume_job(cfg: DictConfig) -> dict | None:
    """Inside a job of a resumed sweep: the summary of a finished job, which is not run again (empty for a job left
    as it is); otherwise None, with ``ckpt_path`` set to the job's last.ckpt (resume) or the job's old outputs
    cleared (rerun from the start)."""
    from lightning.pytorch.utilities import rank_zero_only  # the job has loaded Lightning; the callback must not

    out = Path(cfg.paths.output_dir)
    job = read_job(out)
    name = f"job {out.name.split('_', 1)[0]}"
    action = plan(job)
    if action == KEEP:
        log.info(f"{KEY}: {name} finished in an earlier launch: kept, not run again")
        return job.summary
    if action == LEAVE:
        log.info(f"{KEY}: {name} left as it is, not run: its summary.json cannot be read (remove it to run the job)")
        return {}
    if action == RESUME:
        log.info(f"{KEY}: {name} was interrupted: resuming from its last.ckpt at {checkpoint_step(job)}")
        with read_write(cfg):
            cfg.ckpt_path = str(job.last_checkpoint)
    elif rank_zero_only.rank == 0 and inside_sweep(out):  # not a DDP rank that the job itself started
        log.info(f"{KEY}: {name} " + ("never ran" if job.status == "missing" else f"{job.status}") +
                 (f", and its last.ckpt cannot be loaded ({job.checkpoint_problem})" if job.checkpoint_problem else "")
                 + ": running it from the start")
        clear_outputs(out)
    return None


def checkpoint_step(job: Job) -> str:
    """``step <n>`` of the job's last.ckpt: from the last.json beside it, or, for a checkpoint written before there
    was one, from the checkpoint itself (inside a job, which has loaded torch)."""
    import torch

    if job.checkpoint_step is not None:
        return f"step {job.checkpoint_step}"
    try:
        return f"step {torch.load(job.last_checkpoint, map_location='cpu', weights_only=True)['global_step']}"
    except (OSError, RuntimeError, EOFError, KeyError, pickle.UnpicklingError) as error:
        return f"an unknown step ({type(error).__name__}: {' '.join(str(error).split())[:200]})"


def inside_sweep(job_dir: Path) -> bool:
    """Whether ``job_dir`` is a job directory of this multirun's sweep directory (only those are cleared)."""
    if not in_multirun():
        return False
    return job_dir.resolve().parent == Path(HydraConfig.get().sweep.dir).resolve()


def clear_outputs(job_dir: Path) -> None:
    """Remove what an earlier launch left in a job directory (checkpoints, figures, logger runs, summaries), so that
    a rerun starts clean (Lightning would otherwise write best-v1.ckpt beside an old best.ckpt); keeps ``.hydra/``
    (this launch's record) and the job's log."""
    for entry in job_dir.iterdir():
        if entry.name == ".hydra" or entry.suffix == ".log":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def without_key(overrides) -> list[str]:
    """A job's overrides as a sorted list (their order does not change the job), without ``resume_sweep``."""
    return sorted(o for o in overrides if o.split("=", 1)[0].lstrip("+~") != KEY)


def grid(config: DictConfig) -> list[list[str]] | None:
    """The jobs that Hydra's basic sweeper launches for ``config`` (a launch's config, or a sweep's multirun.yaml),
    in job-number order; None for another sweeper."""
    jobs = grid_jobs(config.hydra)
    return None if jobs is None else [without_key(job) for job in jobs]


def refusal(sweep_dir: Path, jobs: list[list[str]] | None) -> str | None:
    """Why the sweep in ``sweep_dir`` cannot be resumed by a launch of the grid ``jobs``, or None. The directory
    must exist, and the sweep's grid (its ``multirun.yaml``) and each job's overrides (``.hydra/overrides.yaml``)
    must be those of the new launch, job by job."""
    if jobs is None:
        return ("resume_sweep=true resumes a grid of the basic sweeper whose jobs are known before they run (no "
                "shuffle); an Optuna search continues from its storage instead (hydra.sweeper.storage=sqlite:///<file> "
                "hydra.sweeper.study_name=<name>)")
    if not sweep_dir.is_dir():
        return f"resume_sweep=true: there is no sweep directory {sweep_dir}; name the sweep with hydra.sweep.dir="
    sweep = read_jobs(sweep_dir)
    then = None if sweep.grid is None else [without_key(job) for job in sweep.grid]
    made = [job for job in sweep if job.path is not None and OVERRIDES not in job.unreadable]
    if then is None and not made:
        return f"resume_sweep=true: {sweep_dir} holds no sweep of the basic sweeper (no multirun.yaml, no jobs)"
    if (then is None or then == jobs) and all(
            job.num < len(jobs) and without_key(job.overrides) == jobs[job.num] for job in made):
        return None
    before = {o for job in then or [] for o in job} | {o for job in made for o in without_key(job.overrides)}
    now = {o for job in jobs for o in job}
    if before != now:
        return (f"resume_sweep=true: the jobs in {sweep_dir} were made by another command; overrides then, not "
                f"now: {', '.join(sorted(before - now)) or 'none'}; now, not then: "
                f"{', '.join(sorted(now - before)) or 'none'}")
    if then is not None and len(then) != len(jobs):
        return (f"resume_sweep=true: the sweep in {sweep_dir} has {len(then)} jobs, and these overrides make "
                f"{len(jobs)}; give the sweep's own overrides (its multirun.yaml, hydra.overrides.task)")
    return (f"resume_sweep=true: the jobs in {sweep_dir} were made by the same overrides in another order, which "
            f"numbers the jobs differently; give them in the sweep's order (its multirun.yaml, hydra.overrides.task)")


class ResumeSweep(Callback):
    """With ``resume_sweep=true``: before the jobs start, refuse (one line, exit 1) a sweep directory that does not
    exist or was made by another command, else name each file of it that cannot be read and say how many jobs are
    kept, resumed, rerun and left as they are."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if config.get(KEY) is not True:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = grid(config)
        reason = refusal(sweep_dir, jobs)
        if reason:
            print(f"error: {reason}", file=sys.stderr)
            sys.exit(1)
        sweep = read_jobs(sweep_dir)
        for line in sweep.problems:
            log.warning(f"{KEY}: {line}")
        made = {job.num: job for job in sweep if job.path is not None}
        counts = Counter(plan(made.get(num)) for num in range(len(jobs)))
        for job in made.values():
            if job.status == "interrupted" and job.checkpoint_problem:
                log.warning(f"{KEY}: {job.last_checkpoint} cannot be loaded ({job.checkpoint_problem}); job {job.num} "
                            "runs again from the start")
        log.info(f"{KEY}: {len(jobs)} jobs in {sweep_dir}: {counts[KEEP]} kept (finished), {counts[RESUME]} resumed "
                 f"from their last.ckpt, {counts[RERUN]} rerun from the start (failed, missing, or stopped before a "
                 "checkpoint)" + (f", {counts[LEAVE]} left as they are (summary.json cannot be read)"
                                  if counts[LEAVE] else ""))
