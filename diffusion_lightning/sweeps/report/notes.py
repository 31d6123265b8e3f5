"""The report page's notes on reading its numbers, each shown only where the sweep needs it: why two overlapping
intervals can still be a distinguishable paired difference, why the true NLL moves with the seed, why an energy
distance and its noise floor can be negative, and why the validation chart may be missing."""

import html
import math

from .charts import validation_steps
from .sweep import Sweep
from .tables import decimals

ENERGY = "samples/energy_distance"
FLOOR = f"{ENERGY}_floor"


def finished_values(sweep: Sweep, key: str) -> list[float]:
    return [v for job in sweep.jobs if job.status == "finished" and math.isfinite(v := job.value(key))]


def paired_note(sweep: Sweep) -> str | None:
    if not any(group.estimate.n > 1 for group in sweep.groups()):
        return None
    return ("Two 95% intervals that overlap can still be a distinguishable paired difference: each interval holds the "
            "whole spread between seeds, and part of that spread the configurations share (a seed draws the data and "
            "the noise of both, easy or hard for both alike). The paired difference compares them seed by seed, so "
            "what they share cancels and only how they differ is left to decide.")


def true_nll_note(sweep: Sweep) -> str | None:
    truths = finished_values(sweep, "true_nll_bits")
    if not truths or max(truths) - min(truths) <= 1e-9 * max(1.0, abs(max(truths))):
        return None
    d = decimals(truths)
    return (f"The data's true NLL differs between jobs ({min(truths):.{d}f} to {max(truths):.{d}f} bits) because each "
            "seed draws its own data, the test split included (the data's seed is the run's seed), so each job's "
            "bound is against its own true NLL: the gap to it is taken job by job.")


def energy_note(sweep: Sweep) -> str | None:
    scores, floors = finished_values(sweep, ENERGY), finished_values(sweep, FLOOR)
    if not scores:
        return None
    negative = sum(v < 0 for v in scores + floors)
    return ("The energy distance is an unbiased estimate: 0 on average between two samples of one distribution, so "
            "a model as good as the data scores about 0, on either side by chance, and so does the noise floor, the "
            "same statistic between two draws of the data of the same size, one draw of that chance"
            + (f" ({negative} of the values here are below 0, left as they are)" if negative else "")
            + ". Read a score against the size of the floor, not its sign.")


def notes(sweep: Sweep) -> list[str]:
    """The notes under the configuration table, as HTML paragraphs."""
    shown = [note for note in (paired_note(sweep), true_nll_note(sweep), energy_note(sweep)) if note]
    return [f'<p class="muted note">{html.escape(note)}</p>' for note in shown]


def no_curves(sweep: Sweep) -> str:
    """What the page says where it draws no validation curve."""
    steps = validation_steps(sweep.jobs)
    if not steps:
        return "No job left validation curves."
    at = ", ".join(map(str, steps))
    return (f"Each job validated once (at step {at}): a point per group is no curve, so none is drawn; the jobs' "
            "table has the value (val/nll_bound_bits).")
