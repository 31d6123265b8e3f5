"""`python -m diffusion_lightning.sweeps.report` over hand-made sweep directories: the job reader, ranking, seeds
grouped into configurations with their statistics, the files written, and errors; its imports over the shared tiny
sweep (the real sweeps it reads are in test_sweeps.py, damaged files in test_sweep_files.py; the page in a browser is
in test_dashboard.py)."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from matplotlib.figure import Figure

from diffusion_lightning.sweeps.report import main
from diffusion_lightning.sweeps.jobs import read_job
from diffusion_lightning.sweeps.report.stats import Estimate, t_quantile_975
from diffusion_lightning.sweeps.report.sweep import Sweep
from diffusion_lightning.sweeps.report.tables import decimals
from diffusion_lightning.sweeps.status import FailedJobs

ROOT = Path(__file__).resolve().parents[1]


def make_job(sweep, num, overrides, summary=None, figures=True, per_t=False):
    """A job directory as train.py leaves it: overrides, summary, curves and (tiny) figures."""
    job = sweep / f"{num}_{','.join(overrides)}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["debug=fast", *overrides]))
    if summary is not None:
        (job / "summary.json").write_text(json.dumps(summary))
        bits = summary.get("val/nll_bound_bits", 5.0)
        curves = {"train": [{"step": s, "train/bound_bits": bits + 10 / (s + 1), "train/loss": 1.0} for s in range(50)],
                  "val": [{"step": 25, "val/nll_bound_bits": bits + 1}, {"step": 50, "val/nll_bound_bits": bits}]}
        (job / "curves.json").write_text(json.dumps(curves))
    if per_t:
        per_t = {"t": list(range(11)), "bits": [0.01 * (t + 1) for t in range(11)]}
        (job / "bound_per_t.json").write_text(json.dumps(per_t))
    if figures and summary and summary["status"] == "finished":
        (job / "figures").mkdir()
        for name, size in (("samples", (3, 3)), ("forward_process", (12, 2)), ("reverse_process", (12, 2))):
            Figure(figsize=size).savefig(job / "figures" / f"{name}.png", dpi=20)
    return job


def write_grid(sweep, params, task):
    """multirun.yaml, the parts the job reader uses: the sweeper chosen, its params and the command line's overrides."""
    hydra = {"runtime": {"choices": {"hydra/sweeper": "basic"}}, "sweeper": {"params": params},
             "overrides": {"task": task}}
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra}))


@pytest.fixture
def sweep(tmp_path):
    """Of a 3 × 2 grid (lr × schedule, as multirun.yaml says): two jobs finished, one failed, one left no summary,
    and two (lr=100) never started."""
    sweep = tmp_path / "grid_2026-01-01_00-00-00_000000"
    sweep.mkdir()
    finished = {"status": "finished", "step": 50, "wall_time_s": 3.0, "true_nll_bits": 1.9}
    make_job(sweep, 0, ["lr=0.1", "schedule=linear"], {**finished, "test/nll_bound_bits": 4.0,
                                                       "test/nll_bound_se_bits": 0.1, "val/nll_bound_bits": 4.1})
    make_job(sweep, 1, ["lr=0.1", "schedule=cosine"], {**finished, "test/nll_bound_bits": 3.0,
                                                       "val/nll_bound_bits": 3.2, "samples/energy_distance": 0.5})
    make_job(sweep, 2, ["lr=10", "schedule=linear"], {"status": "failed", "step": 3,
                                                      "error": "DivergenceError: non-finite loss at step 3"})
    make_job(sweep, 3, ["lr=10", "schedule=cosine"])
    write_grid(sweep, {"lr": "0.1,10,100"}, ["debug=fast", "schedule=linear,cosine"])
    return sweep


def seeded(tmp_path, bits: dict[str, list[float]], name="seeds"):
    """A schedule × seed grid whose jobs finished with the given test bounds (one list of seeds per schedule)."""
    sweep = tmp_path / name
    sweep.mkdir()
    num = 0
    for schedule, values in bits.items():
        for seed, value in enumerate(values):
            make_job(sweep, num, [f"schedule={schedule}", f"seed={seed}"],
                     {"status": "finished", "test/nll_bound_bits": value, "val/nll_bound_bits": value,
                      "test/true_nll_bits": 1.9, "true_nll_bits": 1.9}, per_t=True)
            num += 1
    return sweep


def test_jobs_are_ranked_best_first_with_failed_and_missing_last(sweep):
    report = Sweep.read(sweep)
    assert report.metric == "test/nll_bound_bits"
    assert [(job.num, job.status) for job in report.jobs][:4] == [(1, "finished"), (0, "finished"), (2, "failed"),
                                                                  (3, "missing")]
    assert [(job.num, job.status, job.path) for job in report.jobs[4:]] == [(4, "missing", None), (5, "missing", None)]
    assert report.jobs[5].overrides == ["lr=100", "debug=fast", "schedule=cosine"]
    assert report.common == ["debug=fast"] and report.keys == ["lr", "schedule"]
    assert "never started" in report.jobs[-1].note and "no summary.json" in report.jobs[3].note


def test_a_killed_job_is_interrupted_with_the_step_of_its_last_checkpoint(tmp_path):
    """The step comes from the last.json written beside last.ckpt; a checkpoint of a version that wrote none has an
    unknown step (the reader never opens a checkpoint)."""
    job = make_job(tmp_path, 0, ["T=10"])
    (job / "run_info.json").write_text("{}")
    assert (read_job(job).status, read_job(job).note) == ("interrupted", "killed")
    (job / "checkpoints").mkdir()
    (job / "checkpoints" / "last.ckpt").write_bytes(b"not read")
    assert read_job(job).note == "killed: no summary.json, last.ckpt at an unknown step"
    (job / "checkpoints" / "last.json").write_text(json.dumps({"global_step": 700, "epoch": 0}))
    assert read_job(job).note == "killed: no summary.json, last.ckpt at step 700" and read_job(job).problems == []


def test_the_end_of_sweep_check_reads_the_same_statuses(sweep, capsys):
    with pytest.raises(SystemExit):
        FailedJobs().on_multirun_end(SimpleNamespace(hydra=SimpleNamespace(sweep=SimpleNamespace(dir=str(sweep)))))
    err = capsys.readouterr().err
    assert "4 job(s)" in err and "2_lr=10,schedule=linear (failed)" in err and "job 5 (missing)" in err


def test_report_files_and_stdout(sweep, capsys):
    assert main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 1 | finished |" in out and "3.00 ±" not in out and "4.00 ± 0.10" in out
    assert "DivergenceError: non-finite loss at step 3" in out
    for name in ("report.md", "report.csv", "report.json", "report.html", "curves.png", "samples_grid.png",
                 "forward_grid.png", "reverse_grid.png"):
        assert (sweep / name).is_file(), name
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    assert [r["status"] for r in rows[:4]] == ["finished", "finished", "failed", "missing"]
    assert rows[0]["schedule"] == "cosine" and float(rows[0]["test/nll_bound_bits"]) == 3.0
    assert float(rows[0]["gap_bits"]) == pytest.approx(1.1)
    page = (sweep / "report.html").read_text()
    assert 'src="http' not in page and "<script src" not in page and "Plotly" in page
    data = json.loads(page.split('id="report-data">')[1].split("</script>")[0])
    assert [job["status"] for job in data["jobs"]] == ["finished", "finished", "failed", *["missing"] * 3]
    assert len(data["images"]) == 2 and all(image["src"].startswith("data:image/png;base64,")
                                            for images in data["images"].values() for image in images.values())


def test_seeds_are_grouped_into_configurations_with_their_statistics(tmp_path, capsys):
    sweep = seeded(tmp_path, {"linear": [3.5, 3.7, 3.6], "cosine": [3.0, 3.1, 3.05]})
    assert main([str(sweep)]) == 0
    report = json.loads((sweep / "report.json").read_text())
    assert report["metric"] == "test/nll_bound_bits"
    best, other = report["groups"]
    assert best["config"] == {"schedule": "cosine"} and other["config"] == {"schedule": "linear"}
    assert best["n"] == 3 and best["mean"] == pytest.approx(3.05) and best["std"] == pytest.approx(0.05)
    assert best["ci95"] == pytest.approx(4.302653 * 0.05 / math.sqrt(3))
    assert sorted(best["jobs"]) == ["3_schedule=cosine,seed=0", "4_schedule=cosine,seed=1", "5_schedule=cosine,seed=2"]
    assert (best["failed"], best["missing"], best["interrupted"]) == (0, 0, 0)
    assert best["gap_to_true_nll"]["mean"] == pytest.approx(1.15)
    difference = other["difference_to_best"]
    assert difference["n"] == 3 and difference["mean"] == pytest.approx(0.55) and difference["distinguishable"]
    table = (sweep / "report.md").read_text()
    assert "| 1 | cosine | 3.050 ± 0.050 (n = 3) | [2.926, 3.174] | best |" in table
    assert "| 2 | linear | 3.600 ± 0.100 (n = 3) | [3.352, 3.848] | +0.55 ± 0.12 (n = 3) | yes | +0.55 ± 0.12 " \
        "(n = 3): yes | 1.700 ± 0.100 (n = 3) |" in table


def test_a_sweep_over_data_is_ranked_by_its_gap_not_its_bound(tmp_path, capsys):
    """sweep=toy_suite's shape: the toy is a swept key, so bounds are on different data; the report ranks by the gap
    bound − true NLL (its mean ± std over seeds and its paired differences), and shows the bound and the true NLL."""
    sweep = tmp_path / "toys"
    runs = {"moons": (2.4, [2.9, 3.0]), "8gaussians": (2.0, [2.8, 2.9])}  # moons: higher bound, smaller gap
    for num, (toy, seed) in enumerate((t, s) for t in runs for s in (0, 1)):
        truth, bounds = runs[toy]
        make_job(sweep, num, [f"data.name={toy}", f"seed={seed}"], {
            "status": "finished", "test/nll_bound_bits": bounds[seed], "test/true_nll_bits": truth,
            "true_nll_bits": truth, "test/gap_bits": bounds[seed] - truth})
    assert main([str(sweep)]) == 0
    report = json.loads((sweep / "report.json").read_text())
    assert report["metric"] == "test/gap_bits"
    assert [g["config"]["data.name"] for g in report["groups"]] == ["moons", "8gaussians"]
    assert report["groups"][0]["mean"] == pytest.approx(0.55) and report["groups"][1]["mean"] == pytest.approx(0.85)
    assert report["groups"][1]["difference_to_best"]["mean"] == pytest.approx(0.3)
    table = (sweep / "report.md").read_text()
    assert "Ranked by the gap, bound − true NLL" in table
    assert "| 1 | moons | 0.550 ± 0.071 (n = 2) |" in table and "| 2.950 ± 0.071 (n = 2) | 2.400 ± 0.000 (n = 2) |" in table
    with pytest.raises(ValueError, match="different data"):  # their bounds, asked for, do not compare
        Sweep.read(sweep, "test/nll_bound_bits")


def test_each_configuration_is_also_compared_with_the_one_ranked_above(tmp_path):
    """Neighbours far from the best can still be told apart: their paired difference is what decides."""
    sweep = seeded(tmp_path, {"a": [3.0, 3.1, 3.2], "b": [4.0, 4.2, 4.1], "c": [4.05, 4.26, 4.14]})
    assert main([str(sweep)]) == 0
    groups = json.loads((sweep / "report.json").read_text())["groups"]
    assert [g["config"]["schedule"] for g in groups] == ["a", "b", "c"] and "difference_to_previous" not in groups[0]
    above_b = groups[1]["difference_to_previous"]  # b − a, seed by seed: 1.0, 1.1, 0.9
    assert above_b["n"] == 3 and above_b["mean"] == pytest.approx(1.0) and above_b["std"] == pytest.approx(0.1)
    assert groups[2]["difference_to_best"]["mean"] == pytest.approx(1.05)  # c − a
    step = groups[2]["difference_to_previous"]
    assert step["n"] == 3 and step["mean"] == pytest.approx(0.05) and step["std"] == pytest.approx(0.01)
    assert step["distinguishable"]  # 0.05 ± 0.025, although the three values of b and c overlap
    assert "| +0.050 ± 0.025 (n = 3): yes |" in (sweep / "report.md").read_text()


def test_one_run_says_n_1_and_different_seed_counts_show_each_n(tmp_path):
    sweep = seeded(tmp_path, {"linear": [3.5], "cosine": [3.0, 3.2], "sigmoid": [3.3, 3.1, 3.2]})
    assert main([str(sweep)]) == 0
    groups = json.loads((sweep / "report.json").read_text())["groups"]
    assert [(g["config"]["schedule"], g["n"]) for g in groups] == [("cosine", 2), ("sigmoid", 3), ("linear", 1)]
    assert groups[2]["std"] is None and groups[2]["ci95"] is None
    assert groups[2]["difference_to_best"] == {"n": 1, "mean": pytest.approx(0.5), "std": None, "ci95": None,
                                               "distinguishable": None}
    table = (sweep / "report.md").read_text()
    assert "| 3 | linear | 3.50 (n = 1) | — | +0.5 (n = 1) | n = 1: cannot tell | +0.2 (n = 1: cannot tell) |" in table
    assert "3.10 ± 0.14 (n = 2)" in table and "3.20 ± 0.10 (n = 3)" in table
    assert "| +0.1 ± 2.5 (n = 2) | no |" in table


def test_failed_and_missing_jobs_are_counted_apart(tmp_path):
    """A schedule × seed grid: linear's seed 2 never started, cosine's seed 2 failed."""
    finished = {"status": "finished"}
    for num, (schedule, seed) in {0: ("linear", 0), 1: ("linear", 1), 3: ("cosine", 0), 4: ("cosine", 1)}.items():
        make_job(tmp_path, num, [f"schedule={schedule}", f"seed={seed}"], {**finished, "test/nll_bound_bits": num})
    make_job(tmp_path, 5, ["schedule=cosine", "seed=2"], {"status": "failed", "error": "DivergenceError: nan"})
    write_grid(tmp_path, {"schedule": "linear,cosine", "seed": "0,1,2"}, ["debug=fast"])
    assert run_report(tmp_path).returncode == 0
    linear, cosine = json.loads((tmp_path / "report.json").read_text())["groups"]
    assert (linear["n"], linear["failed"], linear["missing"]) == (2, 0, 1)
    assert linear["others"] == [{"job": "job 2", "status": "missing", "note": "never started"}]
    assert (cosine["n"], cosine["failed"], cosine["missing"]) == (2, 1, 0)
    assert cosine["others"] == [{"job": "5_schedule=cosine,seed=2", "status": "failed", "note": "DivergenceError: nan"}]


def test_sorting_by_another_metric_and_writing_elsewhere(sweep, tmp_path):
    assert main([str(sweep), "--metric", "val/nll_bound_bits", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").is_file() and not (sweep / "report.html").exists()
    table = (tmp_path / "out" / "report.md").read_text()
    assert table.index("| 1 | 1 |") < table.index("| 2 | 0 |")


def test_a_metric_that_no_job_reports_is_refused_naming_those_they_do(sweep):
    result = subprocess.run([sys.executable, "-m", "diffusion_lightning.sweeps.report", str(sweep), "--metric",
                             "test/nll_bits"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr == ("error: --metric test/nll_bits: no job reports it; the jobs report "
                             "samples/energy_distance, step, test/nll_bound_bits, test/nll_bound_se_bits, "
                             "true_nll_bits, val/nll_bound_bits, wall_time_s\n")
    assert not (sweep / "report.md").exists()
    assert main([str(sweep), "--metric", "wall_time_s", "--out", str(sweep / "by_time")]) == 0


@pytest.mark.parametrize("name, title", [("sweep", "sweep"), ("grid_2026-01-01", "Sweep grid_2026-01-01"),
                                         ("swissroll_sweep_1", "swissroll_sweep_1")])
def test_the_page_title_names_the_sweep_once(tmp_path, name, title):
    make_job(tmp_path / name, 0, ["T=10"], {"status": "finished", "test/nll_bound_bits": 5.0}, figures=False)
    assert main([str(tmp_path / name)]) == 0
    assert f"<title>{title}</title>" in (tmp_path / name / "report.html").read_text()


def test_falls_back_to_the_validation_bound(tmp_path):
    make_job(tmp_path, 0, ["T=10"], {"status": "finished", "val/nll_bound_bits": 5.0})
    make_job(tmp_path, 1, ["T=20"], {"status": "interrupted", "val/nll_bound_bits": 4.0})
    report = Sweep.read(tmp_path)
    assert report.metric == "val/nll_bound_bits"
    assert [job.status for job in report.jobs] == ["finished", "interrupted"]


def test_a_job_without_figures_gets_an_empty_panel(tmp_path):
    make_job(tmp_path, 0, ["T=10"], {"status": "finished", "test/nll_bound_bits": 5.0}, figures=False)
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "samples_grid.png").is_file()


def run_report(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffusion_lightning.sweeps.report", str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def one_line_error(path: Path) -> str:
    result = run_report(path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize("target", ["missing", "empty"])
def test_a_bad_path_is_one_line_and_a_non_zero_exit(tmp_path, target):
    one_line_error(tmp_path / "nothing" if target == "missing" else tmp_path)


def test_jobs_of_different_metrics_or_data_are_refused_in_one_line(tmp_path):
    finished = {"status": "finished", "test/nll_bound_bits": 3.0}
    make_job(tmp_path / "metrics", 0, ["T=10"], finished)
    make_job(tmp_path / "metrics", 1, ["T=20"], {"status": "finished", "val/nll_bound_bits": 3.0})
    assert "different metrics" in one_line_error(tmp_path / "metrics")
    make_job(tmp_path / "truth", 0, ["T=10"], {**finished, "true_nll_bits": 1.9})
    make_job(tmp_path / "truth", 1, ["T=20"], {**finished, "true_nll_bits": 3.5})
    assert "different data" in one_line_error(tmp_path / "truth")
    for num, target in enumerate(["SwissRollDataModule", "HeartbeatDataModule"]):
        job = make_job(tmp_path / "kinds", num, [f"data={target}"], finished)
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"data": {"_target_": target, "seed": 0}}))
    assert "HeartbeatDataModule" in one_line_error(tmp_path / "kinds")


def test_jobs_on_the_same_data_settings_may_differ_in_true_nll_by_seed(tmp_path):
    for seed, truth in enumerate([1.9, 2.4]):  # a tiny test set: its true NLL moves with the seed
        job = make_job(tmp_path, seed, [f"seed={seed}"], {"status": "finished", "test/nll_bound_bits": 3.0,
                                                          "true_nll_bits": truth})
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "data": {"noise": 0.5,
                                                                                           "seed": "${seed}"}}))
    assert run_report(tmp_path).returncode == 0


def test_student_t_quantiles():
    assert [round(t_quantile_975(df), 3) for df in (1, 2, 4, 10, 30, 120)] == [12.706, 4.303, 2.776, 2.228, 2.042,
                                                                                1.98]
    assert Estimate.of([1.0]).std is None and Estimate.of([]).mean is None


def test_the_report_imports_neither_torch_nor_lightning_nor_private_hydra(tiny_sweep, tmp_path):
    """Over a real sweep (with checkpoints): the report, the end-of-sweep status and the resume callback's reader."""
    code = ("import sys; from diffusion_lightning.sweeps.report import main; import diffusion_lightning.sweeps.status, "
            "diffusion_lightning.sweeps.resume; assert main([sys.argv[1], '--out', sys.argv[2]]) == 0; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')))")
    result = subprocess.run([sys.executable, "-c", code, str(tiny_sweep), str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "| finished |" in result.stdout and result.stdout.strip().splitlines()[-1] == "[]"
    sources = list((ROOT / "diffusion_lightning" / "sweeps").rglob("*.py"))
    assert len(sources) > 10 and not any("hydra._internal" in path.read_text() for path in sources)


def test_a_column_has_the_decimals_its_smallest_spread_or_largest_value_asks_for():
    assert decimals([0.9251, 1.104]) == 3  # 0.925 beside 1.104, not 0.9251: four digits of the largest value
    assert decimals([1.935, 1.959]) == 3
    assert decimals([2.473, 2.311], [0.025, 0.032]) == 3  # 2.473 ± 0.025
    assert decimals([2.3251], [0.0014]) == 4  # 2.3251 ± 0.0014
    assert decimals([5.51], [0.27]) == 2 and decimals([3.6], [0.3 - 0.2]) == 2  # 0.1 computed as 0.0999…
    assert decimals([250.0], [1e-9]) == 3  # a spread asks for at most two decimals past the value's four digits
    assert decimals([float("nan"), 0.0, None], [0.0, None]) == 3  # nothing to go by
