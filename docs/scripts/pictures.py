"""The pictures of the README and the docs, from a real short sweep: ``python docs/scripts/pictures.py``.

Runs ``python train.py -m schedule=linear,cosine seed=0,1 logger=none`` at 5000 steps per job (the presets'
budget) in a temporary directory (2 configurations × 2 seeds, 2 min 17 s on a quiet 2-core AMD EPYC), writes its
report, screenshots ``report.html`` in headless Chromium (Debian's ``/usr/bin/chromium``, driven by playwright as
tests/test_dashboard.py drives it) and copies the best job's figures. Everything lands in docs/images/ as
palette PNGs, a few hundred KB in all.

``python docs/scripts/pictures.py --toy-suite multirun_outputs/toy_suite_<stamp>`` instead draws
docs/images/toy_suite.png from a finished ``sweep=toy_suite``: one row per toy, its held-out data beside the samples
of discrete (T = 100) and continuous time (each the seed-0 job's ``figures/samples.npz``), titled with the gap
bound − true NLL over the seeds that finished."""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SWEEP = ["schedule=linear,cosine", "seed=0,1", "logger=none", "sweep_name=schedules"]
FIGURES = ("forward_process", "reverse_process", "samples")


def run_sweep(cwd: Path, steps: int) -> Path:
    """The short sweep, in a subprocess as a user runs it; returns its directory."""
    budget = [f"trainer.max_steps={steps}", f"trainer.val_check_interval={steps // 3}"]
    subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", *SWEEP, *budget], cwd=cwd, check=True)
    return next((cwd / "multirun_outputs").glob("schedules_*"))


def save_small(source: Path, target: Path, width: int, colors: int = 96) -> None:
    """``source`` scaled to at most ``width`` pixels wide and quantised to a palette: a PNG of tens of KB."""
    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def screenshot(page_path: Path, out: Path) -> None:
    """The report page's top (the table of configurations) and its charts, as the browser draws them offline."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True).new_page()
        page.goto(page_path.as_uri())
        page.wait_for_selector("#curves .main-svg")
        page.screenshot(path=str(out / "report_table.png"))
        page.locator("#curves").screenshot(path=str(out / "report_curves.png"))
        page.locator("#images").screenshot(path=str(out / "report_images.png"))
        browser.close()


def toy_suite_picture(sweep_dir: Path, target: Path) -> None:
    """One row per toy of the sweep: held-out data, then the samples of each process, with the gap (mean ± std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from diffusion_lightning.data.toys import TOYS
    from diffusion_lightning.sweeps.report.sweep import Sweep
    from diffusion_lightning.sweeps.report.tables import estimate_cell

    sweep = Sweep.read(sweep_dir)
    groups = {(g.config.get("data.name"), g.config.get("process")): g for g in sweep.groups()}
    toys = [name for name in TOYS if any(toy == name for toy, _ in groups)]
    columns = (("gaussian", "T = 100"), ("gaussian_continuous", "continuous time"))
    fig, axes = plt.subplots(len(toys), 3, figsize=(6, 2 * len(toys)), squeeze=False)
    for row, toy in zip(axes, toys):
        for ax, (process, title) in zip(row[1:], columns):
            group = groups.get((toy, process))
            jobs = [job for job in group.counted(sweep.metric) if job.config.get("seed", "0") == "0"] if group else []
            if jobs:
                points = np.load(jobs[0].path / "figures" / "samples.npz")
                ax.scatter(*points["samples"].T, s=0.3, alpha=0.5, color="C1")
                row[0].scatter(*points["data"].T, s=0.3, alpha=0.5, color="grey")
                ax.set_title(f"{title}\ngap {estimate_cell(group.estimate, 3)}", fontsize=7)
        row[0].set_title(f"{toy}: held-out data", fontsize=7)
        for ax in row:
            ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[], aspect="equal")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000, help="training steps per job (validated three times)")
    parser.add_argument("--toy-suite", type=Path, metavar="SWEEP_DIR",
                        help="draw docs/images/toy_suite.png from a finished sweep=toy_suite instead")
    args = parser.parse_args(argv)
    if args.toy_suite:
        with tempfile.TemporaryDirectory() as tmp:
            toy_suite_picture(args.toy_suite, Path(tmp) / "toy_suite.png")
            save_small(Path(tmp) / "toy_suite.png", IMAGES / "toy_suite.png", width=600)
        print(f"docs/images/toy_suite.png: {(IMAGES / 'toy_suite.png').stat().st_size // 1024} KB")
        return 0
    from diffusion_lightning.sweeps.report.cli import write_report

    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sweep_dir = run_sweep(Path(tmp), args.steps)
        sweep = write_report(sweep_dir, sweep_dir)
        shots = Path(tmp) / "shots"
        shots.mkdir()
        screenshot(sweep_dir / "report.html", shots)
        for name in ("report_table", "report_curves", "report_images"):
            save_small(shots / f"{name}.png", IMAGES / f"{name}.png", width=1000, colors=48)
        for name in FIGURES:
            save_small(sweep.best_job.path / "figures" / f"{name}.png", IMAGES / f"{name}.png", width=900)
        print((sweep_dir / "report.md").read_text())
    for path in sorted(IMAGES.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
