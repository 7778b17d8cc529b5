"""The ``[robustness]`` policy section and its gate rules: accuracy and calibration under corruption.

Rules (each fails closed on a number the audit could not define):
- ``robustness_min_mean_accuracy``: the mean accuracy over the cells that ran ≥ ``min_mean_accuracy``;
- ``robustness_max_relative_drop[<corruption>]``: per corruption, (clean − mean accuracy of its cells at
  severities ≤ 3) / clean ≤ ``max_relative_drop`` (or its override);
- ``robustness_max_ece``: the mean top-label ECE over the cells (before or after the clean temperature)
  ≤ ``max_ece``.
Without a ``robustness`` section in the result the rules are skipped, or fail when ``required``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from audit.gate import rules as helpers
from audit.robustness.params import CORRUPTIONS

#: Severities whose cells count for the relative-drop rule ("mild" corruptions).
MILD_MAX_SEVERITY = 3
MSG_NOT_RUN = ("robustness was not run (a --predictions audit, or --corruptions none) and the policy "
               "requires it; failing closed")
MSG_SKIPPED = "skipped: robustness was not run (run `audit run` on a model, without --corruptions none)"


@dataclass(frozen=True)
class RobustnessRule:
    """Accuracy and calibration under corruption (``[robustness]``); overrides by corruption name."""

    enabled: bool
    required: bool
    min_mean_accuracy: float
    max_relative_drop: float
    max_ece: float
    ece_scaling: str
    overrides: tuple[tuple[str, float], ...] = ()

    def drop_threshold_for(self, corruption: str) -> float:
        """The maximum relative drop that applies to ``corruption``."""
        return dict(self.overrides).get(corruption, self.max_relative_drop)


def corruption_overrides(invalid: type[Exception], fraction):
    """Validator of ``[robustness.overrides]``: corruption name = maximum relative drop in [0, 1]."""

    def check(key: str, value: Any) -> tuple[tuple[str, float], ...]:
        if not isinstance(value, dict):
            raise invalid(f"key {key!r} must be a table of corruption name = max relative drop; got {value!r}")
        out = []
        for name, v in value.items():
            if name not in CORRUPTIONS:
                guess = difflib.get_close_matches(name, CORRUPTIONS, n=1)
                raise invalid(f"unknown corruption {name!r} in {key}" +
                              (f" (did you mean {guess[0]!r}?)" if guess else f"; one of {', '.join(CORRUPTIONS)}"))
            out.append((name, fraction(f"{key}.{name}", v)))
        return tuple(out)

    return check


def robustness_rules(result: dict, rule: RobustnessRule) -> list[dict]:
    """The robustness rules' entries for the gate section (see the module docstring)."""
    section = result.get("robustness") if isinstance(result, dict) else None
    if section is None:
        if rule.required:
            return [helpers.fail_rule("robustness", None, None, MSG_NOT_RUN)]
        return [helpers.skip_rule("robustness", MSG_SKIPPED)]
    if not isinstance(section, dict):
        return [helpers.fail_rule("robustness", None, None, helpers.MSG_UNDEFINED.format(what="robustness"))]
    cells = section.get("cells")
    cells = [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []
    out = [helpers.at_least("robustness_min_mean_accuracy",
                             f"mean accuracy over {len(cells)} corruption cells",
                             helpers.as_number(section.get("mean_accuracy")), rule.min_mean_accuracy)]
    clean = section.get("clean")
    clean = helpers.as_number(clean.get("accuracy")) if isinstance(clean, dict) else None
    ran = list(dict.fromkeys(str(c.get("corruption")) for c in cells))
    for name in ran:
        mild = [helpers.as_number(c.get("accuracy")) for c in cells
                if str(c.get("corruption")) == name and isinstance(c.get("severity"), int)
                and c["severity"] <= MILD_MAX_SEVERITY]
        rname = f"robustness_max_relative_drop[{name}]"
        threshold = rule.drop_threshold_for(name)
        if not mild:
            out.append(helpers.fail_rule(rname, None, threshold,
                                     f"no cells of {name!r} at severities ≤ {MILD_MAX_SEVERITY} "
                                     "(run them with --severities); failing closed"))
            continue
        if clean is None or clean <= 0 or any(v is None for v in mild):
            out.append(helpers.fail_rule(rname, None, threshold,
                                     helpers.MSG_UNDEFINED.format(what=f"relative accuracy drop under {name}")))
            continue
        drop = (clean - sum(mild) / len(mild)) / clean
        out.append(helpers.at_most(rname, f"relative accuracy drop under {name} at severities ≤ "
                                           f"{MILD_MAX_SEVERITY} (clean {clean:.3f})", drop, threshold))
    for name, threshold in rule.overrides:
        if name not in ran:
            out.append(helpers.fail_rule(f"robustness_max_relative_drop[{name}]", None, threshold,
                                     f"policy override names corruption {name!r}, which this audit did not run"))
    key, what = (("mean_ece_after_scaling", "mean ECE under corruption after the clean temperature")
                 if rule.ece_scaling == "after" else ("mean_ece", "mean ECE under corruption"))
    out.append(helpers.at_most("robustness_max_ece", what, helpers.as_number(section.get(key)), rule.max_ece))
    return out
