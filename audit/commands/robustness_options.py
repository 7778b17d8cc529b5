"""``audit run``'s robustness options (--corruptions, --severities, --corruption-samples,
--corruption-data), parsed into the :class:`~audit.robustness.step.RobustnessSettings` that
:func:`audit.run_audit` takes."""

from __future__ import annotations

from pathlib import Path

import click

from audit.robustness.params import CORRUPTIONS, SEVERITIES
from audit.robustness.step import RobustnessSettings

#: --corruptions default for model audits: the whole CIFAR-10-C suite.
SUITE = "cifar10-c"
DEFAULT_SAMPLES = "1000"


def _corruptions(ctx, param, value):
    if value is None:
        return None
    text = value.strip().lower()
    if text == "none":
        return ()
    if text == SUITE:
        return CORRUPTIONS
    names = [v.strip() for v in text.split(",") if v.strip()]
    for name in names:
        if name not in CORRUPTIONS:
            import difflib

            guess = difflib.get_close_matches(name, CORRUPTIONS, n=1)
            raise click.BadParameter(
                f"unknown corruption {name!r}" + (f" (did you mean {guess[0]!r}?)" if guess else "")
                + f"; use {SUITE}, none, or names from {', '.join(CORRUPTIONS)}")
    if not names:
        raise click.BadParameter(f"give {SUITE}, none, or comma-separated corruption names")
    return tuple(dict.fromkeys(names))


def _severities(ctx, param, value):
    try:
        values = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers in 1-5; got {value!r}") from None
    if not values or not all(1 <= v <= 5 for v in values):
        raise click.BadParameter(f"severities must lie in 1-5; got {value!r}")
    return tuple(values)


def _samples(ctx, param, value):
    if value.strip().lower() == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(f"expected a positive integer or 'all'; got {value!r}")
    return n


def robustness_options(func):
    """Add the four robustness options to a click command."""
    options = [
        click.option("--corruptions", metavar=f"{SUITE}|none|NAME,...", callback=_corruptions,
                     help=f"Corruptions for the robustness audit (default for model audits: {SUITE}, all 15; "
                          "not available with --predictions: there is no model to run on corrupted images)."),
        click.option("--severities", default="1,2,3,4,5", show_default=True, callback=_severities,
                     metavar="LIST", help="Severities (1-5) of each corruption."),
        click.option("--corruption-samples", default=DEFAULT_SAMPLES, show_default=True, callback=_samples,
                     metavar="N|all", help="Test images per cell: a seeded stratified subset, the same in "
                                           "every cell; 'all' for the whole test set."),
        click.option("--corruption-data", type=click.Path(), metavar="DIR",
                     help="Evaluate on the released CIFAR-10-C files (<corruption>.npy, labels.npy) instead "
                          "of generating the corruptions (comparable with published numbers)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings(*, corruptions, severities, corruption_samples, corruption_data, predictions: bool) -> RobustnessSettings:
    """Check the options against the kind of audit; robustness is on by default for model audits."""
    given = corruptions is not None
    if predictions:
        if (given and corruptions) or corruption_data:
            raise click.UsageError("--corruptions and --corruption-data need the model in the loop; a "
                                   "--predictions file has no images to corrupt")
        return RobustnessSettings((), severities, corruption_samples, None, given)
    chosen = CORRUPTIONS if corruptions is None else corruptions
    if corruption_data and not chosen:
        raise click.UsageError("--corruption-data needs corruptions to evaluate; drop --corruptions none")
    if corruption_data and not Path(corruption_data).is_dir():  # before any inference
        from audit.errors import AuditError
        from audit.robustness.released import HINT, MSG_NO_FOLDER
        raise AuditError(MSG_NO_FOLDER, path=corruption_data, hint=HINT)
    return RobustnessSettings(tuple(chosen), tuple(severities or SEVERITIES), corruption_samples,
                              corruption_data, given)
