"""The release policy: which gate rules apply and their thresholds, loaded from a TOML file.

The default policy is ``templates/policy.toml`` itself, parsed by the same loader, so the commented file
that ``audit policy init`` writes and the defaults in code cannot disagree.
"""

from __future__ import annotations

import difflib
import importlib.resources
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from audit.errors import AuditError, check_keywords
from audit.gate.model_card import FIELDS as MODEL_CARD_FIELDS
from audit.gate.robustness import RobustnessRule, corruption_overrides

MSG_UNKNOWN_KEY = "unknown key {key!r}"
#: What errors and the verdict's ``policy_source`` name for a policy given as a mapping.
IN_MEMORY = "policy (in memory)"
MSG_SYNTAX = "TOML syntax error: {error}"
MSG_TYPE = "key {key!r} must be {expected}; got {value!r}"
MSG_RANGE = "key {key!r} must be in {allowed}; got {value!r}"
MSG_CHOICE = "key {key!r} must be one of {allowed}; got {value!r}"

#: Name of the policy file ``audit policy init`` writes.
DEFAULT_POLICY_NAME = "audit-policy.toml"


@dataclass(frozen=True)
class AccuracyRule:
    """Minimum overall accuracy; ``use`` is ``"ci_lower"`` (Wilson lower end) or ``"point"``."""

    enabled: bool
    min: float
    use: str


@dataclass(frozen=True)
class ClassErrorRule:
    """Maximum error rate of every class, with per-class overrides by class name.

    ``use`` is ``"point"``, ``"ci_upper"`` or ``"ci_lower"`` (which end of the Wilson interval is compared).
    """

    enabled: bool
    max: float
    use: str
    overrides: tuple[tuple[str, float], ...] = ()

    def threshold_for(self, class_name: str) -> float:
        """The maximum error rate that applies to ``class_name``."""
        return dict(self.overrides).get(class_name, self.max)


@dataclass(frozen=True)
class CalibrationRule:
    """Maximum top-label ECE, ``scaling`` ``"before"`` or ``"after"`` temperature scaling."""

    enabled: bool
    max_ece: float
    scaling: str


@dataclass(frozen=True)
class DisparityRule:
    """Disparity between groups of each grouping: difference (max), ratio (min), worst-group accuracy (min)."""

    enabled: bool
    checks: tuple[str, ...]
    max_difference: float
    min_ratio: float
    min_worst_group_accuracy: float
    groupings: tuple[str, ...]
    include_proxies: bool
    # judging groups of every size (audit.gate.group_judging); defaults = the rule as before them
    min_group_size: int = 1
    use: str = "point"
    multiplicity: str = "none"
    too_few_groups: str = "skip"


@dataclass(frozen=True)
class ChecklistRule:
    """Checklist completeness; empty ``required_items`` and ``required_categories`` require every item."""

    enabled: bool
    required_items: tuple[str, ...]
    required_categories: tuple[str, ...]


@dataclass(frozen=True)
class BaselineRule:
    """Non-regression against a baseline: no loss above ``max_drop`` with McNemar p < ``alpha``."""

    enabled: bool
    max_drop: float
    alpha: float
    overall: bool
    require_baseline: bool


@dataclass(frozen=True)
class SelectiveRule:
    """Selective classification at ``target_accuracy``: minimum coverage, maximum gap in review load
    between the groups of each grouping (groups under ``min_group_size`` samples left out; ``use``
    ``"point"`` or ``"ci_lower"``, the lower end of the gap from Bonferroni-adjusted Wilson intervals).

    ``min_group_size`` is ``[disparity]``'s unless the file sets ``[selective].min_group_size``
    (``min_group_size_from`` says which): one minimum group size judges every group, in the gate and the
    report, unless a team asks for two."""

    enabled: bool
    target_accuracy: float
    min_coverage: float
    max_review_gap: float
    use: str
    min_group_size: int
    groupings: tuple[str, ...]
    include_proxies: bool
    min_group_size_from: str = "selective"


@dataclass(frozen=True)
class ModelCardRule:
    """Model-card completeness: each of ``required_fields`` written in the checklist's [model_card]."""

    enabled: bool
    required_fields: tuple[str, ...]


@dataclass(frozen=True)
class LabelQualityRule:
    """Suspected label errors (cleanlab): at most ``max_flagged_share`` of the samples flagged; with
    ``require_trusted``, the rule also fails while the section warns that the model is too weak to trust."""

    enabled: bool
    max_flagged_share: float
    require_trusted: bool


@dataclass(frozen=True)
class SlicesRule:
    """Discovered weak slices: at most ``max_confirmed`` confirmed slices, each no more than
    ``max_excess`` above the error it exceeds (the excess is judged only for confirmed slices)."""

    enabled: bool
    max_confirmed: int
    max_excess: float


@dataclass(frozen=True)
class ReleaseRule:
    """What ``audit release`` asks beyond a passed gate: ``min_signoffs`` sign-offs of the run's report."""

    min_signoffs: int = 0


@dataclass(frozen=True)
class Policy:
    """A complete release policy. ``source`` is the file it came from, or ``"default"``."""

    accuracy: AccuracyRule
    class_error: ClassErrorRule
    calibration: CalibrationRule
    disparity: DisparityRule
    checklist: ChecklistRule
    baseline: BaselineRule
    selective: SelectiveRule
    robustness: RobustnessRule
    model_card: ModelCardRule = ModelCardRule(enabled=False, required_fields=())
    label_quality: LabelQualityRule = LabelQualityRule(enabled=False, max_flagged_share=0.05, require_trusted=True)
    slices: SlicesRule = SlicesRule(enabled=False, max_confirmed=0, max_excess=1.0)
    release: ReleaseRule = ReleaseRule()
    source: str | None = None


# --- validators: each takes (key path, value) and returns the converted value or raises ------------


def _fraction(key: str, value: Any) -> float:
    return _number(key, value, 0.0, 1.0, "[0, 1]", closed=True)


def _alpha(key: str, value: Any) -> float:
    return _number(key, value, 0.0, 1.0, "(0, 1)", closed=False)


def _number(key: str, value: Any, lo: float, hi: float, allowed: str, *, closed: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(MSG_TYPE.format(key=key, expected="a number", value=value))
    value = float(value)
    inside = (lo <= value <= hi) if closed else (lo < value < hi)
    if not math.isfinite(value) or not inside:
        raise _Invalid(MSG_RANGE.format(key=key, allowed=allowed, value=value))
    return value


def _target(key: str, value: Any) -> float:
    value = _number(key, value, 0.0, 1.0, "(0, 1]", closed=True)
    if value == 0.0:
        raise _Invalid(MSG_RANGE.format(key=key, allowed="(0, 1]", value=value))
    return value


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(MSG_TYPE.format(key=key, expected="a whole number", value=value))
    if value < 1:
        raise _Invalid(MSG_RANGE.format(key=key, allowed="[1, ∞)", value=value))
    return value


def _at_least_zero(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(MSG_TYPE.format(key=key, expected="a whole number", value=value))
    if value < 0:
        raise _Invalid(MSG_RANGE.format(key=key, allowed="[0, ∞)", value=value))
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(MSG_TYPE.format(key=key, expected="true or false", value=value))
    return value


def _choice(*options: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in options:
            raise _Invalid(MSG_CHOICE.format(key=key, allowed=", ".join(map(repr, options)), value=value))
        return value

    return check


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(MSG_TYPE.format(key=key, expected="a list of strings", value=value))
    return tuple(value)


def _subset(*options: str) -> Callable[[str, Any], tuple[str, ...]]:
    def check(key: str, value: Any) -> tuple[str, ...]:
        items = _str_list(key, value)
        for item in items:
            if item not in options:
                raise _Invalid(MSG_CHOICE.format(key=f"{key}[]", allowed=", ".join(map(repr, options)), value=item))
        return tuple(dict.fromkeys(items))

    return check


def _overrides(key: str, value: Any) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict):
        raise _Invalid(MSG_TYPE.format(key=key, expected="a table of class name = max error rate", value=value))
    return tuple((name, _fraction(f"{key}.{name}", v)) for name, v in value.items())


#: section -> key -> validator. The template must hold exactly these keys (a test checks it), except the
#: keys of INHERITED, which it documents commented out.
SCHEMA: dict[str, dict[str, Callable[[str, Any], Any]]] = {
    "accuracy": {"enabled": _bool, "min": _fraction, "use": _choice("ci_lower", "point")},
    "class_error": {
        "enabled": _bool,
        "max": _fraction,
        "use": _choice("point", "ci_upper", "ci_lower"),
        "overrides": _overrides,
    },
    "calibration": {"enabled": _bool, "max_ece": _fraction, "scaling": _choice("before", "after")},
    "disparity": {
        "enabled": _bool,
        "checks": _subset("difference", "ratio", "worst_group_accuracy"),
        "max_difference": _fraction,
        "min_ratio": _fraction,
        "min_worst_group_accuracy": _fraction,
        "groupings": _str_list,
        "include_proxies": _bool,
        "min_group_size": _count,
        "use": _choice("interval", "point"),
        "multiplicity": _choice("bonferroni", "none"),
        "too_few_groups": _choice("skip", "fail"),
    },
    "checklist": {"enabled": _bool, "required_items": _str_list, "required_categories": _str_list},
    "baseline": {
        "enabled": _bool,
        "max_drop": _fraction,
        "alpha": _alpha,
        "overall": _bool,
        "require_baseline": _bool,
    },
    "selective": {
        "enabled": _bool,
        "target_accuracy": _target,
        "min_coverage": _fraction,
        "max_review_gap": _fraction,
        "use": _choice("point", "ci_lower"),
        "min_group_size": _count,
        "groupings": _str_list,
        "include_proxies": _bool,
    },
    "model_card": {"enabled": _bool, "required_fields": _subset(*MODEL_CARD_FIELDS)},
    "robustness": {
        "enabled": _bool,
        "required": _bool,
        "min_mean_accuracy": _fraction,
        "max_relative_drop": _fraction,
        "max_ece": _fraction,
        "ece_scaling": _choice("before", "after"),
        "overrides": None,  # set below: needs _Invalid
    },
    "label_quality": {"enabled": _bool, "max_flagged_share": _fraction, "require_trusted": _bool},
    "slices": {"enabled": _bool, "max_confirmed": _at_least_zero, "max_excess": _fraction},
    "release": {"min_signoffs": _at_least_zero},
}

#: (section, key) -> the (section, key) whose value it takes when a policy file leaves it out.
INHERITED = {("selective", "min_group_size"): ("disparity", "min_group_size")}

_RULE_TYPES = {
    "accuracy": AccuracyRule,
    "class_error": ClassErrorRule,
    "calibration": CalibrationRule,
    "disparity": DisparityRule,
    "checklist": ChecklistRule,
    "baseline": BaselineRule,
    "selective": SelectiveRule,
    "model_card": ModelCardRule,
    "robustness": RobustnessRule,
    "label_quality": LabelQualityRule,
    "slices": SlicesRule,
    "release": ReleaseRule,
}


class _Invalid(Exception):
    """A validation problem; turned into an AuditError naming the file."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


SCHEMA["robustness"]["overrides"] = corruption_overrides(_Invalid, _fraction)


def template_text() -> str:
    """The commented default policy file, as ``audit policy init`` writes it."""
    return (importlib.resources.files("audit.templates") / "policy.toml").read_text(encoding="utf-8")


def default_policy() -> Policy:
    """The default policy: every rule on, parsed from the packaged ``policy.toml``."""
    raw = _parse_toml(template_text(), "policy.toml (packaged default)")
    return _build(raw, None, "default", "policy.toml (packaged default)")


@check_keywords
def load_policy(path: str | Path | Mapping[str, Any]) -> Policy:
    """Load and validate a policy file, or a mapping with the file's structure
    (``{"accuracy": {"min": 0.9}}``); keys and sections left out take their default values.

    Raises
    ------
    TypeError
        If ``path`` is neither a path nor a mapping (naming the type given).
    AuditError
        If the file cannot be read, is not valid TOML (the message gives the line), has an unknown key
        (the message names the key path and the closest valid spelling), or a value of the wrong type or
        out of range (the message names key, value and allowed range).
    """
    if not isinstance(path, (str, os.PathLike, Mapping)):
        raise TypeError(f"policy must be a path or a mapping with the policy file's structure; "
                        f"got {type(path).__name__}")
    if isinstance(path, Mapping):
        defaults = _parse_toml(template_text(), "policy.toml (packaged default)")
        if not all(isinstance(k, str) for k in path):
            raise AuditError(MSG_TYPE.format(key="policy", expected="a mapping of section names to tables",
                                             value=dict(path)), path=IN_MEMORY)
        return _build(dict(path), defaults, IN_MEMORY, IN_MEMORY)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditError("policy file not found", path=path, hint="create one with `audit policy init`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read policy file: {exc}", path=path) from None
    defaults = _parse_toml(template_text(), "policy.toml (packaged default)")
    raw = _parse_toml(text, path)
    return _build(raw, defaults, str(path), path)


def _parse_toml(text: str, source: str | Path) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AuditError(MSG_SYNTAX.format(error=exc), path=source) from None


def _build(raw: dict, defaults: dict | None, source: str, path: str | Path) -> Policy:
    try:
        _check_keys(raw)
        sections = {}
        for section, spec in SCHEMA.items():
            given = raw.get(section, {})
            base = {} if defaults is None else defaults[section]
            values = {}
            for key, validate in spec.items():
                if key in given:
                    value = given[key]
                elif key in base:
                    value = base[key]
                elif (section, key) in INHERITED:
                    source_section, source_key = INHERITED[(section, key)]
                    values[key] = getattr(sections[source_section], source_key)
                    values[f"{key}_from"] = source_section
                    continue
                elif key == "overrides":
                    value = {}
                else:
                    raise _Invalid(f"missing key '{section}.{key}'")
                values[key] = validate(f"{section}.{key}", value)
            sections[section] = _RULE_TYPES[section](**values)
    except _Invalid as exc:
        raise AuditError(exc.message, path=path, hint=exc.hint) from None
    return Policy(**sections, source=source)


def _check_keys(raw: dict) -> None:
    valid = [f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys]
    for section, body in raw.items():
        if section not in SCHEMA:
            key = f"{section}.{next(iter(body))}" if isinstance(body, dict) and body else section
            guess = _closest(key, valid) or _closest(section, list(SCHEMA))
            raise _Invalid(MSG_UNKNOWN_KEY.format(key=key), hint=guess and f"did you mean {guess!r}?")
        if not isinstance(body, dict):
            raise _Invalid(MSG_TYPE.format(key=section, expected=f"a table [{section}]", value=body))
        for key in body:
            if key not in SCHEMA[section]:
                full = f"{section}.{key}"
                guess = _closest(full, valid)
                raise _Invalid(MSG_UNKNOWN_KEY.format(key=full), hint=guess and f"did you mean {guess!r}?")


def _closest(word: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return match[0] if match else None
