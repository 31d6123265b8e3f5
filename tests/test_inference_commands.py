"""``python sample.py`` and ``python evaluate.py`` as a user types them, on a run and on a sweep; a bad input is one
line, a non-zero exit, and nothing written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from diffusion_lightning import load_run
from diffusion_lightning.inference.commands import evaluate, sample

from .conftest import ROOT, copy_as_sweep
from .test_inference import OLD_CHECKPOINT, OLD_OVERRIDES


def command(name: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / f"{name}.py"), *overrides], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def in_process(name: str, *overrides: str):
    """The command's config composed as Hydra composes it, run in this process."""
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose(name, overrides=list(overrides))
    return {"sample": sample, "evaluate": evaluate}[name](cfg)


def files_under(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*")}


@pytest.fixture
def sweep(trained_run, tmp_path) -> Path:
    """A sweep of the trained run as two finished jobs (seed=0 and seed=1 in their overrides) and a failed one."""
    return copy_as_sweep(trained_run[0], tmp_path / "sweep", ["finished", "finished", "failed"])


def test_evaluate_on_a_run_gives_its_test_bound(trained_run, tmp_path):
    directory, _ = trained_run
    result = command("evaluate", f"run={directory}", f"out={tmp_path / 'eval'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((directory / "summary.json").read_text())
    scored = json.loads((tmp_path / "eval" / "test.json").read_text())
    assert scored["points"] == 256 and scored["step"] == 30
    assert scored["run_summary_test_nll_bound_bits"] == summary["test/nll_bound_bits"]
    assert np.float32(scored["nll_bound_bits"]) == summary["test/nll_bound_bits"]  # Lightning logged a float32
    bits = np.loadtxt(tmp_path / "eval" / "test_bits.csv", delimiter=",", skiprows=1)
    assert bits.shape == (256, 2) and np.isclose(bits[:, 0].mean(), scored["nll_bound_bits"], rtol=1e-14, atol=0)
    assert np.array_equal(bits[:, 0], np.load(directory / "bound_per_point.npz")["bits"])
    assert f"{scored['nll_bound_bits']:.4f} ± {scored['nll_bound_se_bits']:.4f} bits over 256 points" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]  # Hydra leaves nothing of its own


def test_sample_on_a_sweep_writes_each_job_and_one_table(sweep, tmp_path):
    result = command("sample", f"run={sweep}", "n=300", "seed=4321", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped 2_seed=2: failed (diverged)" in result.stderr
    for num in (0, 1):
        out = sweep / f"{num}_seed={num}" / "samples"
        x = np.load(out / "n300_seed4321.npy")
        assert x.shape == (300, 2) and x.dtype == np.float32
        assert np.array_equal(np.loadtxt(out / "n300_seed4321.csv", delimiter=",", skiprows=1, dtype=np.float32), x)
        assert (out / "n300_seed4321.png").stat().st_size > 0
        assert json.loads((out / "n300_seed4321.json").read_text())["metrics_over"] == 256
    assert not (sweep / "2_seed=2" / "samples").exists()
    table = (sweep / "samples_n300_seed4321.csv").read_text().splitlines()
    assert table[0].startswith("job,seed,step,energy_distance") and len(table) == 3
    assert "1_seed=1  1     30" in result.stdout


def test_evaluate_on_a_sweep_scores_new_data_and_writes_one_table(sweep, tmp_path, capsys):
    points = load_run(sweep / "0_seed=0").test_split(seed=5, n=40)
    np.save(tmp_path / "new.npy", points.numpy())
    in_process("evaluate", f"run={sweep}", f"data.test_file={tmp_path / 'new.npy'}", f"out={tmp_path / 'out'}")
    rows = (tmp_path / "out" / "evaluation_new.csv").read_text().splitlines()
    assert rows[0] == "job,seed,points,nll_bound_bits,nll_bound_se_bits,true_nll_bits,gap_bits" and len(rows) == 3
    scored = json.loads((tmp_path / "out" / "0_seed=0" / "new.json").read_text())
    assert scored["points"] == 40 and scored["data"] == str(tmp_path / "new.npy")
    assert scored["nll_bound_bits"] == load_run(sweep / "0_seed=0").nll_bound(points).mean().item()
    in_process("evaluate", f"run='{sweep / '0_seed=0'}'", "data.seed=5", "data.n_test=40", f"out={tmp_path / 'gen'}")
    generated = json.loads((tmp_path / "gen" / "test_seed5_n40.json").read_text())
    assert generated["nll_bound_bits"] == scored["nll_bound_bits"]
    assert "skipped 2_seed=2: failed" in capsys.readouterr().err


def test_binary_samples_are_one_line_per_sequence(trained_heartbeat, tmp_path):
    in_process("sample", f"run={trained_heartbeat}", "n=50", f"out={tmp_path}")
    lines = (tmp_path / "n50_seed0.txt").read_text().splitlines()
    assert len(lines) == 50 and all(len(line) == 20 and set(line) <= {"0", "1"} for line in lines)
    run = load_run(trained_heartbeat)
    assert torch.equal(torch.tensor([[float(c) for c in line] for line in lines]), run.sample(50, seed=0))


def bad_inputs(run: Path, heartbeat: Path, tmp_path: Path) -> dict[str, tuple[str, list[str]]]:
    """Expected message → (command, overrides)."""
    (tmp_path / "wide.csv").write_text("x1,x2,x3\n0,1,2\n")
    (tmp_path / "ternary.txt").write_text("01010101010101010101\n01210101010101010101\n")
    (tmp_path / "short.txt").write_text("0101\n")
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    cut = shutil.copytree(run, tmp_path / "cut", ignore=shutil.ignore_patterns("samples", "evaluation"))
    data = (cut / "checkpoints" / "last.ckpt").read_bytes()
    (cut / "checkpoints" / "last.ckpt").write_bytes(data[:1000])
    none = shutil.copytree(run, tmp_path / "none", ignore=shutil.ignore_patterns("*.ckpt", "samples", "evaluation"))
    return {
        "run= is required": ("sample", []),
        f"{empty} is not a run directory": ("evaluate", [f"run={empty}"]),
        f"{tmp_path / 'nowhere'}: no such run directory": ("sample", [f"run={tmp_path / 'nowhere'}"]),
        "last.ckpt cannot be read as a checkpoint": ("sample", [f"run={cut}"]),
        "has no checkpoint (checkpoints/last.ckpt: none)": ("evaluate", [f"run={none}"]),
        "an array of shape (1, 3), and the run's points have 2 values each": (
            "evaluate", [f"run={run}", f"data.test_file={tmp_path / 'wide.csv'}"]),
        "ternary.txt, line 2: character '2' at column 3": (
            "evaluate", [f"run={heartbeat}", f"data.test_file={tmp_path / 'ternary.txt'}"]),
        "an array of shape (1, 4), and the run's points have 20 values each": (
            "evaluate", [f"run={heartbeat}", f"data.test_file={tmp_path / 'short.txt'}"]),
        "data.test_file: no such file": ("evaluate", [f"run={run}", f"data.test_file={tmp_path / 'none.csv'}"]),
        "n=0 must be a whole number ≥ 1": ("sample", [f"run={run}", "n=0"]),
        "device=gpu is not a device torch knows": ("evaluate", [f"run={run}", "device=gpu"]),
        "n=-5 must be a whole number ≥ 1": ("sample", [f"run={run}", "n=-5"]),
        "n=1.5 must be a whole number ≥ 1": ("sample", [f"run={run}", "n=1.5"]),
        "n=many must be a whole number ≥ 1": ("sample", [f"run={run}", "n=many"]),
        "give data.test_file=<file>, or data.seed": (
            "evaluate", [f"run={run}", "data.seed=1", f"data.test_file={tmp_path / 'wide.csv'}"]),
    }


def test_a_bad_input_is_one_line_and_writes_nothing(trained_run, trained_heartbeat, tmp_path, capsys):
    run = trained_run[0]
    cases = bad_inputs(run, trained_heartbeat, tmp_path)
    before = {d: files_under(d) for d in (run, trained_heartbeat, tmp_path)}
    for message, (name, overrides) in cases.items():
        with pytest.raises(SystemExit) as exit_:
            in_process(name, *overrides)
        err = capsys.readouterr().err
        assert exit_.value.code == 1 and err.startswith("error: ") and err.count("\n") == 1, (message, err)
        assert message in err, (message, err)
        assert {d: files_under(d) for d in before} == before, message


def test_a_checkpoint_without_its_run_needs_its_overrides_on_the_command_line(tmp_path):
    """A checkpoint of an earlier release, without the overrides it was trained with, is refused in one line that
    says how to give them, and nothing is written (its config composed inside the command's own Hydra app); with
    them, it samples."""
    result = command("sample", f"run={OLD_CHECKPOINT}", f"out={tmp_path / 'out'}", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: {OLD_CHECKPOINT} does not fit its config (size mismatch for process.betas")
    assert result.stderr.endswith("""on the command line 'overrides=["T=20",...]')\n""")
    assert list(tmp_path.iterdir()) == []
    listed = ",".join(f'"{o}"' for o in OLD_OVERRIDES)
    in_process("sample", f"run={OLD_CHECKPOINT}", f"overrides=[{listed}]", "n=5", f"out={tmp_path / 'out'}")
    assert np.load(tmp_path / "out" / "n5_seed0.npy").shape == (5, 2)
