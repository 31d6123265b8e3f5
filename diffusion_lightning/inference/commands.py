"""``python sample.py`` and ``python evaluate.py`` (composed by Hydra from conf/sample.yaml and conf/evaluate.yaml):
each loads the run that ``run=`` names (a run directory, a sweep's job or a checkpoint), or every finished job of a
sweep, draws samples or scores points, and writes the results beside each run (``<run>/samples/``,
``<run>/evaluation/``) or under ``out``, with one table for a sweep. Every input is loaded and checked before
anything is written, so a bad one leaves nothing behind."""

import functools
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError, print_one_line
from ..training.files import CONFIG
from ..training.outputs import write_json
from ..training.plotting import samples_figure
from .files import format_table, write_bits, write_figure, write_points, write_table
from .loading import Run, finished_jobs, load_run
from .points import read_points

METRIC_POINTS = 2000  # samples that the data's sample metrics and the figure use (the energy distance grows as n²)


def one_line_errors(command):
    """``command(cfg)``, with a bad input shown as one line and exit status 1 (``HYDRA_FULL_ERROR=1``: the
    traceback), as ``train.py`` shows its own."""
    @functools.wraps(command)
    def run(cfg: DictConfig):
        try:
            return command(cfg)
        except Exception as error:  # noqa: BLE001 (print_one_line re-raises all but a known failure)
            print_one_line(error)
            sys.exit(1)
    return run


@dataclass
class Target:
    """A run to use: its name in a table, what ``load_run`` loads, where its files go, and (in a sweep) its
    overrides."""

    name: str
    path: Path
    out: Path
    overrides: dict[str, str] = field(default_factory=dict)


def targets(cfg: DictConfig, folder: str) -> tuple[list[Target], Path | None]:
    """The runs that ``run=`` names, each writing into ``<run>/<folder>`` (or ``out``, ``out/<job>`` in a sweep),
    and for a sweep the directory of its table (the sweep's, or ``out``). A sweep's jobs that did not finish are
    named on stderr and left out."""
    if OmegaConf.is_missing(cfg, "run") or not cfg.run:
        raise ConfigError("run= is required: a run directory (outputs/<stamp>), a sweep's job, a checkpoint file or a "
                          "sweep directory; e.g. run=outputs/<stamp>")
    path, out = Path(str(cfg.run)), Path(str(cfg.out)) if cfg.out else None
    if path.is_dir() and not (path / CONFIG).is_file():
        finished, left_out = finished_jobs(path)
        for line in left_out:
            print(line, file=sys.stderr)
        if finished:
            first = finished[0].config
            swept = {k for job in finished for k in {*job.config, *first} if job.config.get(k) != first.get(k)}
            return [Target(job.name, job.path, out / job.name if out else job.path / folder,
                           {k: v for k, v in job.config.items() if k in swept}) for job in finished], out or path
        if left_out:
            raise ConfigError(f"{path}: none of its {len(left_out)} jobs finished; run=<a job's directory> uses one")
    home = (path.parent.parent if path.parent.name == "checkpoints" else path.parent) if path.is_file() else path
    return [Target(path.name, path, out or home / folder)], None


def loaded(cfg: DictConfig, folder: str) -> tuple[list[tuple[Target, Run]], Path | None]:
    found, table_dir = targets(cfg, folder)
    overrides = list(cfg.get("overrides") or [])
    return [(target, load_run(target.path, cfg.device, overrides)) for target in found], table_dir


def whole_number(key: str, value, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{key}={value} must be a whole number ≥ {least}; e.g. {key}={max(least, 1) * 1000}")
    return value


def end_table(rows: list[dict], path: Path | None) -> None:
    if path is not None:
        write_table(path, rows)
        print(format_table(rows))
        print(f"table: {path}")


@one_line_errors
def sample(cfg: DictConfig) -> None:
    """``n`` samples of each run drawn from ``seed``: ``n<n>_seed<seed>`` .npy and .csv (points) or .txt (one 0/1
    line per sequence), a figure against the run's test split, and a JSON with the data's sample metrics."""
    n, seed = whole_number("n", cfg.n, 1), whole_number("seed", cfg.seed, 0)
    runs, table_dir = loaded(cfg, "samples")
    rows = []
    for target, run in runs:
        x, test, kind = run.sample(n, seed), run.test_split(), run.datamodule.kind
        stem = target.out / f"n{n}_seed{seed}"
        files = write_points(stem, x, kind)
        m = min(n, METRIC_POINTS, len(test))
        metrics = run.datamodule.sample_metrics(run.datamodule.to_model(x[:m]), "test") if m >= 2 else {}  # model units
        files.append(write_figure(stem.with_suffix(".png"),
                                  samples_figure(x[:METRIC_POINTS], test[:METRIC_POINTS], kind)))
        write_json(stem.with_suffix(".json"), {
            "run": str(target.path), "checkpoint": str(run.checkpoint), "step": run.step, "n": n, "seed": seed,
            "device": str(run.device), "files": [str(f) for f in files], "metrics_over": m,
            **{f"samples/{k}": v for k, v in metrics.items()}})
        print(f"{target.name}: {n} samples (step {run.step}, seed {seed}) in {stem}.*")
        rows.append({"job": target.name, **target.overrides, "step": run.step, **metrics})
    end_table(rows, table_dir and table_dir / f"samples_n{n}_seed{seed}.csv")


def scored_points(cfg: DictConfig, run: Run) -> tuple[str, str, torch.Tensor]:
    """(a name for the files, what the points are, the points): ``data.test_file``, or the test split of another
    ``data.seed`` / ``data.n_test``, or the run's own test split."""
    data = cfg.data
    if data.test_file and (data.seed is not None or data.n_test is not None):
        raise ConfigError("give data.test_file=<file>, or data.seed / data.n_test for a generated split, not both")
    if data.test_file:
        path = Path(str(data.test_file))
        name = f"file_{path.stem}" if path.stem.startswith("test") else path.stem  # never the generated splits' names
        return name, str(path), read_points(path, run.datamodule.shape, run.datamodule.kind)
    if data.seed is not None or data.n_test is not None:
        changes = {k: v for k, v in {"seed": data.seed, "n_test": data.n_test}.items() if v is not None}
        for key, value in changes.items():
            whole_number(f"data.{key}", value, 0 if key == "seed" else 2)
        name = "test_" + "_".join(f"{'n' if k == 'n_test' else k}{v}" for k, v in changes.items())
        what = "the test split of " + ", ".join(f"data.{k}={v}" for k, v in changes.items())
        return name, what, run.test_split(data.seed, data.n_test)
    return "test", "the run's test split", run.test_split()


@one_line_errors
def evaluate(cfg: DictConfig) -> None:
    """Each point's bound in bits (``<name>_bits.csv``, with its true NLL where the data has one), and a JSON
    summary: the mean ± its standard error, and on the run's own test split the test bound its summary.json holds."""
    if cfg.seed is not None:
        whole_number("seed", cfg.seed, 0)
    runs, table_dir = loaded(cfg, "evaluation")
    scored = [(target, run, *scored_points(cfg, run)) for target, run in runs]  # every file checked first
    rows = []
    for target, run, name, what, x in scored:
        bits = run.nll_bound(x, seed=cfg.seed)
        truth = run.true_nll(x)
        mean, se = bits.mean().item(), (bits.std() / math.sqrt(len(bits))).item() if len(bits) > 1 else 0.0
        result = {"nll_bound_bits": mean, "nll_bound_se_bits": se}
        if truth is not None:
            result |= {"true_nll_bits": truth.mean().item(), "gap_bits": mean - truth.mean().item()}
        summary = {"run": str(target.path), "checkpoint": str(run.checkpoint), "step": run.step, "data": what,
                   "points": len(bits), "eval_seed": run.config.eval_seed if cfg.seed is None else cfg.seed, **result}
        recorded = run.summary.get("test/nll_bound_bits") if (name, cfg.seed) == ("test", None) else None
        if recorded is not None:
            summary["run_summary_test_nll_bound_bits"] = recorded  # float32, as Lightning logged it
        write_bits(target.out / f"{name}_bits.csv", {"nll_bound_bits": bits, **({"true_nll_bits": truth}
                                                                               if truth is not None else {})})
        write_json(target.out / f"{name}.json", summary)
        print(f"{target.name}: {mean:.4f} ± {se:.4f} bits over {len(bits)} points ({what}, step {run.step})"
              + (f"; summary.json: {recorded:.4f}" if recorded is not None else "") + f" in {target.out / name}.json")
        rows.append({"job": target.name, **target.overrides, "points": len(bits), **result})
    end_table(rows, table_dir and table_dir / f"evaluation_{scored[0][2]}.csv")

