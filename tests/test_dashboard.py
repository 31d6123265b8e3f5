"""The report page in a real browser: headless Chromium renders ``report.html`` of a fake 12-job sweep from disk,
offline, and the test reads the DOM the page's script built (rows, plotly charts, sorting, grouping, filtering).

Needs Debian's chromium (``apt-get install chromium``; .ci/run installs it) and the ``playwright`` package, which
drives that browser (``playwright install`` is never needed: the system's Chromium is launched)."""

import json
import math
import os
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from diffusion_lightning.sweeps.report import main

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MEANS = {("linear", "adam"): 2.5, ("cosine", "adam"): 2.7, ("linear", "sgd"): 3.5, ("cosine", "sgd"): 4.0}


def figures(job: Path, spread: float) -> None:
    """Small figures with something in them: samples of a spiral, and q(x_t) / p(x_t) as rows of frames."""
    (job / "figures").mkdir()
    rng = np.random.default_rng(0)
    s = rng.uniform(1.5 * np.pi, 4.5 * np.pi, 400)
    roll = np.stack([s * np.cos(s), s * np.sin(s)], 1) / 5 + spread * rng.standard_normal((400, 2))
    fig = Figure(figsize=(3, 3))
    fig.subplots().scatter(*roll.T, s=2)
    fig.savefig(job / "figures" / "samples.png", dpi=60)
    for name in ("forward_process", "reverse_process"):
        fig = Figure(figsize=(12, 1.5))
        for i, ax in enumerate(fig.subplots(1, 6)):
            noisy = roll + (i / 2 if name == "forward_process" else (5 - i) / 2) * rng.standard_normal(roll.shape)
            ax.scatter(*noisy.T, s=1)
            ax.set_axis_off()
        fig.savefig(job / "figures" / f"{name}.png", dpi=60)


TARGETS = {"linear": "diffusion_lightning.diffusion.schedules.linear",
           "cosine": "diffusion_lightning.diffusion.schedules.cosine", "adam": "torch.optim.Adam",
           "sgd": "torch.optim.SGD"}


def fake_sweep(root: Path, validations: range = range(250, 2001, 250)) -> Path:
    """A schedule × optimizer × seed grid of 12 jobs, named and configured as Hydra names and configures them: one
    failed, one killed without a summary, ten finished with curves (validated at ``validations``), bound per t and
    figures. Each seed draws its own data (its own true NLL); energy distances and their floors are near 0, some
    below."""
    sweep = root / "grid_2026-01-01_00-00-00_000000"
    num = 0
    for schedule in ("linear", "cosine"):
        for optimizer in ("adam", "sgd"):
            for seed in range(3):
                overrides = [f"schedule={schedule}", f"optimizer={optimizer}", f"seed={seed}"]
                interval = validations[1] - validations[0] if len(validations) > 1 else validations[0]
                common = ["trainer.max_steps=2000", f"trainer.val_check_interval={interval}"]
                job = sweep / f"{num}_{','.join(sorted([*common, *overrides]))}"
                (job / ".hydra").mkdir(parents=True)
                (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([*common, *overrides]))
                (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({
                    "seed": seed, "schedule": {"_target_": TARGETS[schedule]},
                    "optimizer": {"_target_": TARGETS[optimizer], "_partial_": True}}))
                (job / "run_info.json").write_text("{}")
                bits = MEANS[schedule, optimizer] + 0.05 * (seed - 1)
                num += 1
                if (optimizer, seed) == ("sgd", 2):
                    if schedule == "linear":
                        (job / "summary.json").write_text(json.dumps(
                            {"status": "failed", "step": 700, "error": "DivergenceError: non-finite loss at step 700"}))
                    continue  # cosine: killed, no summary
                (job / "summary.json").write_text(json.dumps({
                    "status": "finished", "step": 2000, "wall_time_s": 60.0 + seed, "test/nll_bound_bits": bits,
                    "test/nll_bound_se_bits": 0.025, "val/nll_bound_bits": bits + 0.01,
                    "val/nll_bound_se_bits": 0.035, "true_nll_bits": (1.935, 1.936, 1.959)[seed],
                    "samples/energy_distance": 0.002 * bits - 0.006,
                    "samples/energy_distance_floor": 0.0027 - 0.003 * seed}))
                steps = range(250, 2001, 250)
                train = [{"step": s, "train/loss": 1.0, "train/bound_bits": bits + 8 / (1 + s / 100)} for s in steps]
                val = [{"step": s, "val/nll_bound_bits": bits + 6 * math.exp(-s / 400)} for s in validations]
                (job / "curves.json").write_text(json.dumps({"train": train, "val": val}))
                per_t = [0.01 * bits, *(bits / 40 * (1 + math.exp(-t / 5)) for t in range(1, 41))]
                (job / "bound_per_t.json").write_text(json.dumps({"t": list(range(41)), "bits": per_t}))
                figures(job, spread=0.05 * bits)
    return sweep


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium with a fresh profile, offline by its flags. Skipped where there is none, with the reason in
    pytest's summary (``-rs`` in pyproject's addopts); under CI, which installs it (.ci/run), a failure instead."""
    missing = None
    try:
        from playwright import sync_api
    except ImportError:
        missing = "no playwright: pip install playwright (never `playwright install`)"
    if missing is None and not CHROMIUM.is_file():
        missing = f"no headless Chromium at {CHROMIUM}: apt-get install chromium"
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"the report page's browser test: {missing}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    """The report page of the fake sweep, written once: the tests only read it."""
    sweep = fake_sweep(tmp_path_factory.mktemp("dashboard"))
    assert main([str(sweep)]) == 0
    return sweep / "report.html"


@contextmanager
def opened(browser, report: Path, ready: str):
    """A report page opened from disk in a fresh 1400-px-wide context, once ``ready`` is drawn; fails on any script
    error or any request off disk."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=True)
    page = context.new_page()
    errors, requests = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report.as_uri())
    page.wait_for_selector(ready)
    yield page
    assert errors == [] and all(url.startswith(("file:", "data:")) for url in requests), (errors, requests)
    context.close()


@pytest.fixture
def page(browser, report_html):
    with opened(browser, report_html, "#curves .main-svg") as page:
        yield page


def group_order(page) -> list[str]:
    return page.eval_on_selector_all("#groups tr.group", "rows => rows.map(r => r.dataset.group)")


def test_the_page_has_a_row_per_job_and_draws_its_charts(page):
    assert len(group_order(page)) == 4
    page.click("#expand")
    assert page.locator("tr.job").count() == 12
    assert page.locator("tr.job.failed").count() == 1 and page.locator("tr.job.interrupted").count() == 1
    assert page.get_by_text("DivergenceError: non-finite loss at step 700").is_visible()
    assert page.get_by_text("killed").first.is_visible()
    for chart in ("curves", "per-t", "parallel"):
        assert page.locator(f"#{chart}.js-plotly-plot svg.main-svg").count() >= 1, chart
    assert page.locator("#curves .legend .traces").count() == 4
    assert page.locator("#images img").count() == 9  # 3 figures of the best 3 configurations
    assert page.screenshot(full_page=True).startswith(b"\x89PNG")


def test_a_column_header_sorts_the_rows(page):
    ranked = group_order(page)
    assert ranked[0] == "schedule=linear, optimizer=adam"
    page.click("#groups th[data-key=label]")
    assert group_order(page) == sorted(ranked) != ranked
    page.click("#groups th[data-key=label]")
    assert group_order(page) == sorted(ranked, reverse=True)
    page.click("#groups th[data-key=above]")  # the paired difference to the configuration ranked just above
    assert group_order(page)[-1] == ranked[0]  # the best has none, and rows without a value sort last


def test_grouping_by_fewer_keys_and_filtering(page):
    page.uncheck("#by-optimizer")
    assert group_order(page) == ["schedule=linear", "schedule=cosine"]
    assert page.locator("#curves .legend .traces").count() == 2
    page.check("#by-optimizer")
    page.fill("#filter", "failed")
    assert group_order(page) == ["schedule=linear, optimizer=sgd"]


WIDTHS = """() => { const box = document.querySelector(".table-box");
    return [document.documentElement.scrollWidth, window.innerWidth, box.scrollWidth, box.clientWidth]; }"""


def test_the_page_fits_a_1400_px_window_with_every_job_shown(page):
    """Neither the page nor the table scrolls sideways, its rows folded or every job shown (long job names, long
    config differences)."""
    page_width, window, table, box = page.evaluate(WIDTHS)
    assert page_width <= window and table <= box, (page_width, window, table, box)
    page.click("#expand")
    page_width, window, table, box = page.evaluate(WIDTHS)
    assert page_width <= window and table <= box, (page_width, window, table, box)


NUMBER_CELLS = """tables => tables.flatMap(t => [...t.querySelectorAll(":scope > tbody > tr:not(.detail)")]
    .map(r => [...r.children].map(c => c.classList.contains("num") ? c.textContent : "")))"""


def test_each_column_shows_its_numbers_with_one_number_of_decimals(page):
    """In the configurations' table and the jobs' tables (the counts "(n = 3)" aside)."""
    page.click("#expand")
    for tables in ("#groups", "table.jobs"):
        for column in zip(*page.eval_on_selector_all(tables, NUMBER_CELLS)):
            numbers = [n for cell in column for n in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\(n = \d+\)", "", cell))]
            assert len({len(n.partition(".")[2]) for n in numbers}) <= 1, (tables, column)
    assert page.locator("table.jobs td.num", has_text="-0.0003").count() and page.get_by_text("1.959").count()


def test_the_page_says_why_intervals_overlap_the_true_nll_moves_and_energy_distances_go_below_0(page):
    notes = " ".join(page.locator("p.note").all_text_contents())
    assert "overlap can still be a distinguishable paired difference" in notes
    assert "(1.935 to 1.959 bits) because each seed draws its own data" in notes
    assert "unbiased" in notes and "below 0" in notes


def test_a_single_validation_is_said_in_a_line_not_drawn_as_a_curve(browser, tmp_path):
    sweep = fake_sweep(tmp_path, validations=range(2000, 2001))
    assert main([str(sweep)]) == 0
    with opened(browser, sweep / "report.html", "#per-t .main-svg") as page:
        assert page.locator("#curves").is_hidden() and page.locator("#curves-help").is_hidden()
        assert page.get_by_text("Each job validated once (at step 2000)").is_visible()
