"""``python -m diffusion_lightning.bench [NAME ...] [--quick] [--threads N] [--out PATH]``: run benchmarks (all but
``quality`` when no NAME is given; ``all`` for every one), print one JSON line per measurement on stdout, and write
the report (BENCHMARKS.md), replacing the sections of the benchmarks that ran."""

import argparse
import contextlib
import datetime
import json
import sys
from pathlib import Path

from ..errors import ConfigError
from ..training import environment

environment.configure()  # before torch loads: OpenMP reads its wait policy then

import torch  # noqa: E402

from . import evaluation, heartbeat, job, loaded_run, overhead, points_file, quality, report, scaling, threads  # noqa: E402
from .common import load, machine, rounded  # noqa: E402

BENCHMARKS = {
    "overhead": (overhead.run, (
        "Training steps per second of the product's Lightning loop (`build` + `trainer.fit`, default config; no "
        "logger, evaluating callbacks and validation off) against a bare PyTorch loop doing the same work per "
        "step, interleaved block by block; ratio = Lightning / bare. `nvml_check`: the tiny bare loop with "
        "PyTorch's NVML-based CUDA check on (as `import lightning` sets it) against the product's setting.")),
    "threads": (threads.run, (
        "The bare loop at the default config in fresh processes: alone, two started together, or a second one "
        "`joined` to a first (OpenMP's default) already training; with OpenMP's default wait policy, with "
        "`OMP_WAIT_POLICY=PASSIVE`, with one torch thread per process (what the joblib launcher gives parallel "
        "jobs), or as the package chooses (passive where other processes keep the cores busy when it loads). "
        "`per_run`: each process's figure (for `joined`, the first run's over the second's measured steps).")),
    "scaling_T": (scaling.run_T, (
        "Step time of the product's loop (in-process, settings interleaved over rounds) and peak resident memory "
        "(one fresh process per setting; `fit_peak_growth_mb`: the peak during the fit above the memory before "
        "it) against T, Swiss roll.")),
    "scaling_data": (scaling.run_data, "The same against the number of Swiss roll training points."),
    "heartbeat": (heartbeat.run, (
        "`experiment=heartbeat_paper`: the product's step against the user's approach, all T steps evaluated for "
        "every batch (gradients accumulated over chunks of t), interleaved in one process.")),
    "bound": (evaluation.run_bound, "Wall time of the exact bound over every t (`process.bound`) on the test split."),
    "sampling": (evaluation.run_sampling, "Wall time of ancestral sampling (`process.sample`)."),
    "loaded_run": (loaded_run.run, (
        "A run loaded for use (`load_run`, default config, T = 100, the 10^4 test points): `Run.nll_bound` on the "
        "test split against the run's own test bound (`trainer.test`: the same estimator, batches and seeds), and "
        "`Run.sample` of as many points; `points_steps_per_s` = points × T / wall.")),
    "points_file": (points_file.run, (
        "`data=points` on a CSV of 10^6 rows × 2 with a header line: `PointsDataModule.setup` (read, hold out the "
        "validation and test rows, standardise on the training rows) against numpy's `loadtxt` of the same file, "
        "and the module on the same points as `.npy`; `rows_per_s` = rows / wall.")),
    "quality": (quality.run, (
        "Training time (validation excluded) until the validation bound first comes within 0.1 bits of the run's "
        "final bound, validated every 1000 steps; `fit_wall_s` includes those validations.")),
    "job": (job.run, (
        "Where a sweep-preset job's wall time goes (`python train.py T=… trainer.max_steps=5000 "
        "trainer.val_check_interval=1000 callbacks.sample_metrics.val_samples=0`, as a sweep runs its jobs; W&B "
        "offline, one fresh process each, from launch to exit): start-up "
        "(imports, timed apart), building, the logger's start, the training steps alone, the rest of the fit loop, "
        "each validation's bound and samples, the test's bound and samples, figures, checkpoints (within the "
        "loop and validations), writing the results, the loggers' finish and exit; `whole_over_train` = wall / "
        "training steps.")),
}
DEFAULT = [name for name in BENCHMARKS if name != "quality"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m diffusion_lightning.bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)}, or all (default: all but quality)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every benchmark runs")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, one per core)")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="the report (default BENCHMARKS.md)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - {*BENCHMARKS, "all"}
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)} or all")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        earlier = report.read_raw(args.out)  # before the benchmarks run: a report that cannot be read stops them
    except ConfigError as error:
        parser.exit(1, f"error: {error}\n")
    names = list(BENCHMARKS) if "all" in args.names else args.names or DEFAULT
    command = " ".join(["python -m diffusion_lightning.bench", *(sys.argv[1:] if argv is None else argv)])
    run = {"benchmarks": names, "command": command, "date": datetime.datetime.now().isoformat(timespec="minutes"),
           "machine": machine(), "load_start": load()}
    records, stdout = [], sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # Lightning's progress bars write to stdout: keep it for the results
        for name in names:
            for record in BENCHMARKS[name][0]("quick" if args.quick else "full"):
                records.append(rounded(record))
                print(json.dumps(records[-1]), file=stdout, flush=True)
    run["load_end"] = load()
    report.write(args.out, earlier, records, run, {name: text for name, (_, text) in BENCHMARKS.items()})
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
