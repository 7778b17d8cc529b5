"""The headline numbers of an audit result, picked in one place: the terminal summary, ``summary.md``, the
report's header and the history record all show these, so they cannot disagree on which class is worst,
which grouping has the largest gap, or whether robustness and human review are shown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Review:
    """Human review at the target accuracy (``selective``): people review ``review_load`` of the images."""

    target_accuracy: float | None
    threshold: float | None  # None: no threshold reaches the target, people review every image
    review_load: float | None
    review_load_ci: list | None
    coverage: float | None
    aurc: float | None


@dataclass(frozen=True)
class Robustness:
    """Accuracy under corruption (``robustness``): the mean over the cells and the worst corruption."""

    mean_accuracy: float | None
    clean_accuracy: float | None
    worst_corruption: str | None
    worst_corruption_accuracy: float | None
    n_cells: int


@dataclass(frozen=True)
class DataQuality:
    """Suspected label errors (``label_quality``) and confirmed weak slices (``slices``); a count is None
    where its section was not computed (``*_reason`` says why)."""

    n_flagged: int | None
    share_flagged: float | None
    label_warning: bool
    label_reason: str | None
    n_confirmed_slices: int | None
    worst_slice: dict | None  # the first confirmed slice (largest excess on the discovery half)
    slices_reason: str | None

    @property
    def label_line(self) -> str:
        if self.n_flagged is None:
            return f"not computed ({self.label_reason})"
        warn = " — model too weak to trust the flags (see report)" if self.label_warning else ""
        return f"{self.n_flagged} samples flagged as suspected label errors ({100 * self.share_flagged:.1f}%){warn}"

    @property
    def slices_line(self) -> str:
        if self.n_confirmed_slices is None:
            return f"not computed ({self.slices_reason})"
        s = self.worst_slice
        if not s:
            return "no weak slice confirmed on the held-out half"
        where = " & ".join(f"{k}={v}" for k, v in s["predicates"].items())
        return (f"{self.n_confirmed_slices} confirmed; first: {where} error {100 * s['error_rate']:.1f}% vs "
                f"{100 * s['expected_error']:.1f}% for its classes (n = {s['n']})")


@dataclass(frozen=True)
class Explanations:
    """The saliency maps of the gallery (``explanations``): method, images explained, sanity figures and how
    many of them say the maps should not be trusted; ``reason`` where there are none."""

    method: str | None
    layer: str | None
    n_items: int
    rank_correlation: float | None
    deletion_win_rate: float | None
    n_warnings: int
    reason: str | None

    @property
    def line(self) -> str:
        if not self.method or not self.n_items:
            return f"none ({self.reason or 'absent'})"
        method = f"{self.method} (layer {self.layer})" if self.layer else self.method
        figures = ", ".join(f"{name} {value:.2f}" for name, value in
                            (("randomisation rank correlation", self.rank_correlation),
                             ("deletion win rate", self.deletion_win_rate)) if value is not None)
        trust = (f"{self.n_warnings} sanity check(s) say not to trust the maps (see report)" if self.n_warnings
                 else "the sanity checks do not flag them")
        return f"{method} on {self.n_items} images; {figures or 'no sanity figures'}: {trust}"


@dataclass(frozen=True)
class Headline:
    """The key numbers of one audit result (undefined ones are None)."""

    name: str
    n: int | None
    n_classes: int
    accuracy: float | None
    accuracy_ci: list | None
    balanced_accuracy: float | None
    macro_f1: float | None
    #: per-class rows with a defined error rate, worst first (ties by class index)
    worst_classes: list[dict] = field(default_factory=list)
    classes_without_samples: list[str] = field(default_factory=list)
    ece: float | None = None
    ece_after: float | None = None
    #: the ``disparity[]`` entry with the largest defined accuracy difference
    largest_disparity: dict | None = None
    #: why no disparity is defined, when groupings exist but none has a difference
    disparity_undefined: list[str] = field(default_factory=list)
    has_groupings: bool = False
    review: Review | None = None
    robustness: Robustness | None = None
    data_quality: DataQuality | None = None
    explanations: Explanations | None = None
    checklist_open: int | None = None
    checklist_items: int | None = None
    verdict: str | None = None  # "pass" | "fail" | None (no gate)

    @property
    def worst_class(self) -> dict | None:
        return self.worst_classes[0] if self.worst_classes else None

    def key_metrics(self) -> dict[str, float]:
        """The numbers the history stores and charts as trends (undefined ones left out)."""
        worst = self.worst_class
        values = {
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "worst_class_error": _number(worst.get("error_rate")) if worst else None,
            "ece_before": self.ece,
            "ece_after": self.ece_after,
            "largest_disparity": _number(self.largest_disparity.get("difference")) if self.largest_disparity else None,
            "review_load": self.review.review_load if self.review else None,
            "robustness_mean": self.robustness.mean_accuracy if self.robustness else None,
            "n_flagged": _number(self.data_quality.n_flagged) if self.data_quality else None,
            "confirmed_slices": _number(self.data_quality.n_confirmed_slices) if self.data_quality else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def headline(result: dict) -> Headline:
    """The headline numbers of an audit result (the audit.json mapping)."""
    overall = result.get("overall") or {}
    per_class = [r for r in result.get("per_class") or [] if isinstance(r, dict)]
    rated = sorted((r for r in per_class if _number(r.get("error_rate")) is not None),
                   key=lambda r: (-r["error_rate"], r.get("index", 0)))
    cal = result.get("calibration") or {}
    groupings = [d for d in result.get("disparity") or [] if isinstance(d, dict)]
    defined = [d for d in groupings if _number(d.get("difference")) is not None]
    checklist = result.get("checklist")
    gate = result.get("gate")
    return Headline(
        name=str((result.get("run") or {}).get("name") or "predictions"),
        n=overall.get("n"),
        n_classes=len(result.get("class_names") or per_class),
        accuracy=_number(overall.get("accuracy")),
        accuracy_ci=overall.get("accuracy_ci"),
        balanced_accuracy=_number(overall.get("balanced_accuracy")),
        macro_f1=_number(overall.get("macro_f1")),
        worst_classes=rated,
        classes_without_samples=[str(r.get("class")) for r in per_class if _number(r.get("error_rate")) is None],
        ece=_number(cal.get("ece")),
        ece_after=_number((cal.get("after_scaling") or {}).get("ece")),
        largest_disparity=max(defined, key=lambda d: d["difference"]) if defined else None,
        disparity_undefined=sorted({d.get("undefined_reason") or "undefined" for d in groupings}) if not defined else [],
        has_groupings=bool(groupings),
        review=_review(result.get("selective")),
        robustness=_robustness(result.get("robustness")),
        data_quality=_data_quality(result.get("label_quality"), result.get("slices")),
        explanations=_explanations(result.get("explanations")),
        checklist_open=checklist.get("n_open") if isinstance(checklist, dict) else None,
        checklist_items=len(checklist.get("items") or []) if isinstance(checklist, dict) else None,
        verdict=("pass" if gate.get("passed") else "fail") if isinstance(gate, dict) and gate else None,
    )


def _review(sel: Any) -> Review | None:
    if not isinstance(sel, dict):
        return None
    return Review(target_accuracy=_number(sel.get("target_accuracy")), threshold=_number(sel.get("threshold")),
                  review_load=_number(sel.get("review_load")), review_load_ci=sel.get("review_load_ci"),
                  coverage=_number(sel.get("coverage")), aurc=_number(sel.get("aurc")))


def _robustness(section: Any) -> Robustness | None:
    if not isinstance(section, dict):
        return None
    rows = [r for r in section.get("by_corruption") or [] if isinstance(r, dict) and _number(r.get("accuracy")) is not None]
    worst = min(rows, key=lambda r: r["accuracy"]) if rows else None
    return Robustness(mean_accuracy=_number(section.get("mean_accuracy")),
                      clean_accuracy=_number((section.get("clean") or {}).get("accuracy")),
                      worst_corruption=str(worst["corruption"]) if worst else None,
                      worst_corruption_accuracy=_number(worst["accuracy"]) if worst else None,
                      n_cells=len(section.get("cells") or []))


def _explanations(section: Any) -> Explanations | None:
    if not isinstance(section, dict):
        return None
    sanity = section.get("sanity") if isinstance(section.get("sanity"), dict) else {}
    return Explanations(method=section.get("method"), layer=section.get("layer"),
                        n_items=len(section.get("items") or []),
                        rank_correlation=_number(sanity.get("randomization_rank_correlation")),
                        deletion_win_rate=_number(sanity.get("deletion_win_rate")),
                        n_warnings=len(sanity.get("verdicts") or []), reason=section.get("reason"))


def _data_quality(labels: Any, slices: Any) -> DataQuality | None:
    if not isinstance(labels, dict) and not isinstance(slices, dict):
        return None
    labels, slices = labels if isinstance(labels, dict) else {}, slices if isinstance(slices, dict) else {}
    confirmed = [s for s in slices.get("found") or [] if isinstance(s, dict) and s.get("confirmed")]
    lq_on, sl_on = bool(labels.get("computed")), bool(slices.get("computed"))
    return DataQuality(n_flagged=labels.get("n_flagged") if lq_on else None,
                       share_flagged=_number(labels.get("share_flagged")) if lq_on else None,
                       label_warning=bool(labels.get("warning")), label_reason=labels.get("reason") or "absent",
                       n_confirmed_slices=len(confirmed) if sl_on else None,
                       worst_slice=confirmed[0] if confirmed else None,
                       slices_reason=slices.get("reason") or "absent")
