"""A trained run, loaded for use: ``load_run(path)`` (``load_sweep`` for every finished job of a sweep) gives its
composed config and the weights it evaluated (the EMA
network, and the EMA of a learned schedule), to draw samples and to score points in bits by the estimator of the
run's own test bound (``training.evaluation``: the same batches and seeds, so the run's test split gives its test
bound to the last digit, and the figures' seed its figures' samples, bit for bit on the same device)."""

import logging
import pickle
from pathlib import Path

import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from ..errors import ConfigError
from ..sweeps.jobs import Job, read_job, read_jobs
from ..training.callbacks import frame_steps
from ..training.evaluation import seeded_samples, split_bound
from ..training.files import BEST_CHECKPOINT, CONFIG, LAST_CHECKPOINT
from ..training.run import build_model
from .points import as_points

CONF = Path(__file__).resolve().parents[2] / "conf"  # composes the config of a checkpoint without its run directory
UNREADABLE = (OSError, RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError)
log = logging.getLogger(__name__)


class Run:
    """A trained run: ``config`` (the composed config), ``module`` (the DiffusionModule, with the checkpoint's
    weights), ``net`` and ``process`` (what the run evaluated and sampled: the EMA copies), ``datamodule`` (its data,
    set up), ``checkpoint`` and its ``step``, ``directory`` (None for a checkpoint without its run), its ``summary``
    and ``device``.
    Points go in and come out on the CPU, in the data's own units (0/1 for binary data)."""

    def __init__(self, config: DictConfig, datamodule, module, checkpoint: Path, step: int, directory: Path | None):
        self.config, self.datamodule, self.module = config, datamodule, module
        self.checkpoint, self.step, self.directory = checkpoint, step, directory
        self.device = torch.device("cpu")

    def __repr__(self) -> str:
        return f"Run({self.directory or self.checkpoint}, step {self.step}, {self.datamodule.kind} data, T={self.T})"

    @property
    def summary(self) -> dict:
        """The run's ``summary.json`` (status and final metrics); empty for a checkpoint without its run."""
        return read_job(self.directory).summary if self.directory is not None else {}

    @property
    def net(self) -> torch.nn.Module:
        return self.module.eval_net

    @property
    def process(self):
        return self.module.eval_process

    @property
    def T(self) -> int:
        return self.process.T

    def to(self, device: str | torch.device) -> "Run":
        """Move the weights to ``device`` (e.g. "cuda"); returns the run."""
        try:
            device = torch.device(device)
        except RuntimeError:
            raise ConfigError(f"device={device} is not a device torch knows; e.g. device=cpu or device=cuda") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device={device}: torch sees no CUDA device here; use device=cpu")
        self.module.to(device)
        self.device = device
        return self

    def points(self, x, source: str = "the points") -> torch.Tensor:
        """``x`` as float32 points of this run's data, refused in one line where its shape or values do not fit."""
        return as_points(x, self.datamodule.shape, self.datamodule.kind, source)

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` samples (n, *shape) drawn from ``seed``: the figures' samples with the figures' seed and number
        (``callbacks.figures.seed``, ``callbacks.figures.n_samples``)."""
        return self.trajectory(n, seed, steps=())[0]

    def trajectory(self, n: int, seed: int = 0, steps: tuple[int, ...] | None = None) -> dict[int, torch.Tensor]:
        """x_t of the same draw as ``sample(n, seed)`` at each t in ``steps`` (default: the figures' frames) and at
        t = 0 (the samples)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n={n} must be a whole number ≥ 1 (how many samples); e.g. n=1000")
        steps = frame_steps(self.T) if steps is None else tuple(steps)
        _, frames = seeded_samples(self.process, self.net, (n, *self.datamodule.shape), seed, self.device, steps)
        return {t: self.datamodule.to_data(x.cpu()) for t, x in sorted(frames.items())}

    def nll_bound(self, x, seed: int | None = None, batch_size: int | None = None) -> torch.Tensor:
        """Each point's negative bound in bits (float64), exact over t: the run's test bound, its x_t drawn from
        ``seed`` (default the run's ``eval_seed``) batch by batch (default ``data.eval_batch_size`` points). Points
        are in the data's own units, and so are the bits (standardised points: the log-determinant added)."""
        x = self.datamodule.to_model(self.points(x)).to(self.device)
        seed = self.config.eval_seed if seed is None else seed
        bits = split_bound(self.process, self.net, x, seed, batch_size or self.datamodule.eval_batch_size).cpu()
        return bits + self.datamodule.bits_offset

    def true_nll(self, x) -> torch.Tensor | None:
        """Each point's true −log2 p(x) under the generator of the run's data; None where it is unknown."""
        return self.datamodule.true_nll_points(self.points(x))

    def test_split(self, seed: int | None = None, n: int | None = None) -> torch.Tensor:
        """The run's test split; with ``seed`` (or ``n``), the test split that the run's data generator makes with
        that seed (``data.seed``) and size (``data.n_test``): new data, drawn as the run's own was."""
        if seed is None and n is None:
            return self.datamodule.to_data(self.datamodule.splits["test"])
        if self.config.data.get("train_file"):
            raise ConfigError("the run's data comes from files (data.train_file), which another data.seed or "
                              "data.n_test does not change: score another file with data.test_file=<file>")
        changes = {k: v for k, v in {"seed": seed, "n_test": n}.items() if v is not None}
        datamodule = instantiate(OmegaConf.merge(self.config.data, changes))
        datamodule.setup()
        return datamodule.to_data(datamodule.splits["test"])


def load_run(path: str | Path, device: str | torch.device = "cpu", overrides: list[str] | tuple[str, ...] = ()) -> Run:
    """The run in ``path``: a run directory (``outputs/<stamp>``, or a sweep's job), whose weights are those its test
    evaluated (``tested_checkpoint``), or a checkpoint file. A checkpoint outside its run directory has no config
    beside it: its config is composed from ``conf/train.yaml`` with ``overrides``, the overrides it was trained
    with (e.g. ``["T=20", "model.hidden=16"]``)."""
    path = Path(path)
    if path.is_file():
        checkpoint, directory = path, path.parent.parent
        if path.parent.name != "checkpoints" or not (directory / CONFIG).is_file():
            directory = None
    elif (path / CONFIG).is_file():
        checkpoint, directory = tested_checkpoint(path), path
    elif path.is_dir():
        raise ConfigError(f"{path} is not a run directory (it has no {CONFIG}): give a run's directory "
                          "(outputs/<stamp>, or a sweep's job <sweep>/<num>_<overrides>) or one of its checkpoints")
    else:
        raise ConfigError(f"{path}: no such run directory or checkpoint")
    if directory is not None and overrides:
        raise ConfigError(f"overrides compose the config of a checkpoint without its run directory, and {path} has "
                          f"its run's {CONFIG}: leave overrides out")
    config = run_config(directory) if directory is not None else composed_config(checkpoint.parent, list(overrides))
    state = read_checkpoint(checkpoint)
    with torch.random.fork_rng(devices=[]):  # building draws fresh weights, and the checkpoint sets the RNG
        datamodule, module = build_model(config)
        module.on_load_checkpoint(state)  # what Lightning calls before loading the weights: renames older keys
        try:
            module.load_state_dict(state["state_dict"])
        except RuntimeError as error:
            lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [str(error)]
            problem = lines[0].rstrip(".")
            fix = (f"the checkpoint and {directory / CONFIG} disagree" if directory is not None else
                   "give the overrides it was trained with (load_run(path, overrides=[\"T=20\", ...]); on the "
                   "command line 'overrides=[\"T=20\",...]')")
            raise ConfigError(f"{checkpoint} does not fit its config ({problem}): {fix}") from None
    module.eval()
    return Run(config, datamodule, module, checkpoint, state["global_step"], directory).to(device)


def finished_jobs(sweep: Path) -> tuple[list[Job], list[str]]:
    """A sweep's jobs that finished, in job order, and one line for each of the others (why it is left out)."""
    jobs = [job for job in read_jobs(sweep) if job.path is not None]
    left_out = [f"skipped {job.name}: {job.status}" + (f" ({job.note})" if job.note else "") for job in jobs
                if job.status != "finished"]
    return [job for job in jobs if job.status == "finished"], left_out


def load_sweep(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Run]:
    """Every finished job of the sweep in ``path``, by its directory's name, in job order; each job left out is
    named in a warning."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: no such sweep directory")
    jobs, left_out = finished_jobs(path)
    for line in left_out:
        log.warning(line)
    if not jobs:
        raise ConfigError(f"{path} holds no finished job" + (f" ({len(left_out)} did not finish)" if left_out else
                                                               ": give a sweep's directory (multirun_outputs/<sweep>)"))
    return {job.name: load_run(job.path, device) for job in jobs}


def tested_checkpoint(directory: Path) -> Path:
    """The checkpoint that holds the weights the run's test evaluated and its figures sampled: the weights at the
    end of training, at the step ``summary.json`` records; ``last.ckpt``, else ``best.ckpt`` where it is the one at
    that step (runs made before ``FinalCheckpoint`` may have neither: then ``last.ckpt``, with a warning). A run that
    did not finish gives its ``last.ckpt``."""
    found = [directory / name for name in (LAST_CHECKPOINT, BEST_CHECKPOINT) if (directory / name).is_file()]
    if not found:
        cut = sorted(p.name for p in (directory / "checkpoints").glob("*.tmp"))
        what = f"only {cut[0]}, cut short while it was written" if cut else "none"
        raise ConfigError(f"{directory} has no checkpoint ({LAST_CHECKPOINT}: {what}): the run stopped before it "
                          "wrote one; train it again")
    job = read_job(directory)
    step = job.summary.get("step") if job.status == "finished" else None
    if step is None:
        log.warning(f"{directory} did not finish ({job.status}): loading {found[0].name}")
        return found[0]
    for checkpoint in found:
        if read_checkpoint(checkpoint)["global_step"] == step:
            return checkpoint
    log.warning(f"{directory}: its test evaluated the weights of step {step}, and no checkpoint holds them: loading "
                f"{found[0].name}, whose bound differs from summary.json's")
    return found[0]


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents (tensors and plain values only), refused in one line where it cannot be read."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not {"state_dict", "global_step"} <= state.keys():
            raise ValueError("it holds no state_dict and global_step")
        return state
    except UNREADABLE as error:
        why = " ".join(str(error).split(". ")[0].split()).rstrip(".")
        why = why if isinstance(error, (OSError, RuntimeError, ValueError)) else f"{type(error).__name__}: {why}"
        raise ConfigError(f"{path} cannot be read as a checkpoint ({why}): it is cut short or not "
                          "a checkpoint; load another (checkpoints/best.ckpt, last.ckpt) or train again") from None


def run_config(directory: Path) -> DictConfig:
    """The composed config that Hydra kept in the run directory, its output directory set to that directory."""
    try:
        config = OmegaConf.load(directory / CONFIG)
    except (OSError, yaml.YAMLError, OmegaConfBaseException) as error:
        raise ConfigError(f"{directory / CONFIG} cannot be read ({' '.join(str(error).split())})") from None
    with open_dict(config):
        config.paths.output_dir = str(directory)
    return config


def composed_config(output_dir: Path, overrides: list[str]) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``: in the running Hydra app (conf/ is its config directory), or alone."""
    args = [f"paths.output_dir={output_dir}", "logger=none", *overrides]
    try:
        if GlobalHydra.instance().is_initialized():
            return compose("train", overrides=args)
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
            return compose("train", overrides=args)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"the overrides {overrides} do not compose: {str(error).splitlines()[0]}") from None
