"""Fast guards on the default recipe's numbers, in CI (the trainings that reach the published figures are
`pytest -m slow`, `test_quality.py`).

The evaluation: a guard on the default recipe's published number (README: `python train.py`, seed 0). The EMA weights of
that run at its last step are kept in tests/data/default_ema_step20000.pt (the run's `last.ckpt`, `ema.*` only).
Scored again here on the run's own held-out test split (seed 0, never trained on) with the exact bound, they must give
the run's `test/nll_bound_bits` to float32 round-off: a slip in any formula the bound, the process, the schedule, the
network or the data rest on moves it by far more (the previous release, whose learned_range variance could not
leave β̃_2 at t = 1, scores these weights at 2.1482: 0.0415 bits more).
The tolerance, 2e-5 bits, is the float32 round-off of summing 10^4 points × 101 terms in another order (the same
weights scored with another chunking of t differ by under 1e-5 bits, `test_known_answers.py`).

If the math changes on purpose, re-measure the default run (`python train.py`), store its EMA weights as above, and
publish the move (before → after) in the results page.

The training: 2000 steps of the default recipe at seed 0 must land within four seeds' standard deviations of what
it measured. Measured over seeds 0-4 (`python train.py -m trainer.max_steps=2000 trainer.val_check_interval=2000
logger=none callbacks.figures=null callbacks.sample_metrics=null seed=0,1,2,3,4`): test bounds 3.081, 3.089, 3.039,
3.089, 3.123 bits, std 0.030; seed 0 gave 3.0808. Its reach is coarser: a slip in the training loss that costs more
than 0.12 bits at this budget (a wrong weight, a sign, a broken optimizer group). The previous release's t = 1 slip
cost 0.064 ± 0.016 bits here, paired over the five seeds, and would have passed it; the evaluation guard above and the
known-answer tests are what catch slips of that size."""

import json
from pathlib import Path

import pytest
import torch

from diffusion_lightning.training.evaluation import batch_bound
from diffusion_lightning.training.run import build_model, run

WEIGHTS = Path(__file__).parent / "data" / "default_ema_step20000.pt"

DEFAULT_TEST_BOUND_BITS = 2.1066834926605225  # `python train.py`, summary.json's test/nll_bound_bits
DEFAULT_TRUE_NLL_BITS = 1.934730052947998     # its test/true_nll_bits


def test_the_default_runs_weights_score_its_published_test_bound(make_cfg):
    cfg = make_cfg("logger=none")
    datamodule, module = build_model(cfg)
    module.ema.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    bits = torch.cat([batch_bound(module.eval_process, module.eval_net, x0, cfg.eval_seed + i)[0]
                      for i, x0 in enumerate(datamodule.test_dataloader())])
    assert len(bits) == cfg.data.n_test and datamodule.true_nll_bits("test") == pytest.approx(DEFAULT_TRUE_NLL_BITS, abs=1e-6)
    assert bits.mean().item() == pytest.approx(DEFAULT_TEST_BOUND_BITS, abs=2e-5)


SHORT_RUN_BITS, SEED_STD_BITS = 3.0808, 0.030  # seed 0, and the std over seeds 0-4, of the 2000-step run


def test_a_short_default_run_lands_where_it_measured(make_cfg, tmp_path):
    run(make_cfg("logger=none", "callbacks.figures=null", "callbacks.sample_metrics=null", "trainer.max_steps=2000",
                 "trainer.val_check_interval=2000"))
    bits = json.loads((tmp_path / "summary.json").read_text())["test/nll_bound_bits"]
    assert abs(bits - SHORT_RUN_BITS) < 4 * SEED_STD_BITS
