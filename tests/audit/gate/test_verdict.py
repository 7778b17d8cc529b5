"""Tests of the verdict: every rule at its boundary (at the threshold passes), failing closed on nulls."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from helpers.gate_fixtures import make_result, with_baseline

from audit.gate.policy import SCHEMA, default_policy
from audit.gate.verdict import evaluate, format_table

EPS = 1e-6  # well above the 1e-9 tolerance: "just past the threshold"


def policy_with(**sections):
    """The default policy with fields of some sections replaced: policy_with(accuracy={"min": 0.5})."""
    policy = default_policy()
    for section, changes in sections.items():
        policy = dataclasses.replace(policy, **{section: dataclasses.replace(getattr(policy, section), **changes)})
    return policy


def only(section: str, **changes):
    """A policy with every rule off except ``section``."""
    off = {s: {"enabled": False} for s in SCHEMA if "enabled" in SCHEMA[s]}
    off[section] = {"enabled": True, **({"use": "point"} if section == "disparity" else {}), **changes}
    return policy_with(**off)


def rules(result, policy) -> dict:
    gate = evaluate(result, policy, informational=False)
    return {r["name"]: r for r in gate["rules"]}


def test_fixture_passes_the_default_policy_and_result_is_not_modified():
    result = make_result()
    before = copy.deepcopy(result)
    gate = evaluate(result, default_policy(), informational=True)
    assert result == before
    assert gate["passed"] is True and gate["informational"] is True and gate["policy_source"] == "default"
    assert [r["name"] for r in gate["rules"]] == [
        "min_accuracy", "max_class_error_rate[cat]", "max_class_error_rate[dog]", "max_class_error_rate[ship]",
        "max_ece", "max_disparity_difference[region]", "min_disparity_ratio[region]",
        "min_worst_group_accuracy[region]", "checklist_complete", "baseline_no_regression",
        "min_selective_coverage", "max_review_load_gap[region]", "robustness", "model_card_complete"]
    assert all(set(r) == {"name", "value", "threshold", "passed", "skipped", "reason"} for r in gate["rules"])


def test_disabled_rules_are_left_out_and_an_empty_gate_passes():
    gate = evaluate(make_result(), only("accuracy", enabled=False), informational=False)
    assert gate == {"policy_source": "default", "informational": False, "passed": True, "rules": []}


# --- min_accuracy: value >= min passes ---------------------------------------------------------------


@pytest.mark.parametrize(("lower", "passed", "op"), [(0.6, True, "≥"), (0.6 - EPS, False, "<"), (0.61, True, "≥")])
def test_min_accuracy_ci_lower_boundary(lower, passed, op):
    result = make_result()
    result["overall"]["accuracy_ci"] = [lower, 0.7]
    rule = rules(result, only("accuracy", min=0.6))["min_accuracy"]
    assert rule["passed"] is passed and rule["value"] == lower and rule["threshold"] == 0.6
    assert rule["reason"].startswith("accuracy CI lower bound") and f" {op} 0.60" in rule["reason"]


def test_min_accuracy_failing_value_is_shown_with_enough_digits():
    result = make_result()
    result["overall"]["accuracy_ci"] = [0.5999, 0.7]
    assert rules(result, only("accuracy", min=0.6))["min_accuracy"]["reason"] == \
        "accuracy CI lower bound 0.5999 < 0.60"


@pytest.mark.parametrize(("accuracy", "passed"), [(0.7, True), (0.7 - EPS, False)])
def test_min_accuracy_point_estimate(accuracy, passed):
    result = make_result()
    result["overall"]["accuracy"] = accuracy
    rule = rules(result, only("accuracy", min=0.7, use="point"))["min_accuracy"]
    assert rule["passed"] is passed and rule["reason"].startswith("accuracy ")


@pytest.mark.parametrize("ci", [None, [None, 0.7], "bad"])
def test_min_accuracy_fails_closed_on_undefined(ci):
    result = make_result()
    result["overall"]["accuracy_ci"] = ci
    rule = rules(result, only("accuracy"))["min_accuracy"]
    assert rule["passed"] is False and rule["value"] is None and "failing closed" in rule["reason"]


def test_missing_overall_section_fails_closed():
    result = make_result()
    del result["overall"]
    assert rules(result, only("accuracy"))["min_accuracy"]["passed"] is False


# --- max_class_error_rate: value <= max passes --------------------------------------------------------


@pytest.mark.parametrize(("error", "passed"), [(0.5, True), (0.5 + EPS, False)])
def test_class_error_boundary(error, passed):
    result = make_result()
    result["per_class"][0]["error_rate"] = error
    rule = rules(result, only("class_error", max=0.5))["max_class_error_rate[cat]"]
    assert rule["passed"] is passed
    assert rule["reason"] == f"error rate of 'cat' {error:.3f} {'≤' if passed else '>'} 0.50" or not passed


def test_class_error_override_replaces_the_threshold_for_that_class():
    result = make_result()
    got = rules(result, only("class_error", max=0.35, overrides=(("cat", 0.4),)))
    assert got["max_class_error_rate[cat]"]["passed"] and got["max_class_error_rate[cat]"]["threshold"] == 0.4
    assert got["max_class_error_rate[dog]"]["passed"] and got["max_class_error_rate[dog]"]["threshold"] == 0.35
    got = rules(result, only("class_error", max=0.5, overrides=(("ship", 0.19),)))
    assert got["max_class_error_rate[ship]"]["passed"] is False


def test_override_naming_an_unknown_class_fails_with_a_suggestion():
    rule = rules(make_result(), only("class_error", overrides=(("caat", 0.6),)))["max_class_error_rate[caat]"]
    assert rule["passed"] is False and "not a class of this model" in rule["reason"] and "'cat'" in rule["reason"]


@pytest.mark.parametrize(("use", "value"), [("ci_upper", 0.498), ("ci_lower", 0.3094), ("point", 0.4)])
def test_class_error_interval_ends(use, value):
    rule = rules(make_result(), only("class_error", use=use))["max_class_error_rate[cat]"]
    assert rule["value"] == value
    assert rules(make_result(), only("class_error", use=use, max=value))["max_class_error_rate[cat]"]["passed"]
    assert not rules(make_result(), only("class_error", use=use, max=value - EPS))["max_class_error_rate[cat]"]["passed"]


def test_class_with_no_samples_fails_closed():
    result = make_result()
    result["per_class"][2].update(support=0, error_rate=None, error_rate_ci=None)
    rule = rules(result, only("class_error"))["max_class_error_rate[ship]"]
    assert rule["passed"] is False and "undefined" in rule["reason"]


# --- max_ece -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scaling", "key_path", "value"), [("before", (), 0.1), ("after", ("after_scaling",), 0.1)])
@pytest.mark.parametrize(("delta", "passed"), [(0.0, True), (EPS, False)])
def test_max_ece_boundary_before_and_after_scaling(scaling, key_path, value, delta, passed):
    result = make_result()
    target = result["calibration"]
    for key in key_path:
        target = target[key]
    target["ece"] = value + delta
    rule = rules(result, only("calibration", max_ece=0.1, scaling=scaling))["max_ece"]
    assert rule["passed"] is passed and f"ECE {scaling} temperature scaling" in rule["reason"]


def test_ece_after_scaling_is_a_different_number():
    assert rules(make_result(), only("calibration", scaling="after"))["max_ece"]["value"] == 0.03
    assert rules(make_result(), only("calibration", scaling="before"))["max_ece"]["value"] == 0.05


def test_ece_null_fails_closed():
    result = make_result()
    result["calibration"]["after_scaling"] = None
    assert rules(result, only("calibration", scaling="after"))["max_ece"]["passed"] is False


# --- disparity ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("difference", "passed"), [(0.1, True), (0.1 + EPS, False)])
def test_disparity_difference_boundary(difference, passed):
    result = make_result()
    result["disparity"][0]["difference"] = difference
    rule = rules(result, only("disparity", max_difference=0.1))["max_disparity_difference[region]"]
    assert rule["passed"] is passed


@pytest.mark.parametrize(("ratio", "passed"), [(0.8, True), (0.8 - EPS, False)])
def test_disparity_ratio_is_a_minimum(ratio, passed):
    result = make_result()
    result["disparity"][0]["ratio"] = ratio
    rule = rules(result, only("disparity", min_ratio=0.8))["min_disparity_ratio[region]"]
    assert rule["passed"] is passed and rule["threshold"] == 0.8


@pytest.mark.parametrize(("worst", "passed"), [(0.5, True), (0.5 - EPS, False)])
def test_worst_group_accuracy_boundary(worst, passed):
    result = make_result()
    result["disparity"][0]["groups"][0]["accuracy"] = worst
    rule = rules(result, only("disparity", min_worst_group_accuracy=0.5))["min_worst_group_accuracy[region]"]
    assert rule["passed"] is passed and rule["value"] == worst and "'north'" in rule["reason"]


def test_proxies_are_excluded_unless_the_policy_includes_them():
    names = rules(make_result(), only("disparity"))
    assert not any("brightness" in n for n in names)
    got = rules(make_result(), only("disparity", include_proxies=True))
    assert got["max_disparity_difference[brightness]"]["passed"] is False
    assert got["min_disparity_ratio[brightness]"]["passed"] is False
    assert got["min_worst_group_accuracy[brightness]"]["passed"] is False


def test_named_groupings_are_checked_even_when_proxies_and_missing_ones_fail():
    got = rules(make_result(), only("disparity", groupings=("brightness", "regoin"), checks=("difference",)))
    assert set(got) == {"max_disparity_difference[brightness]", "max_disparity_difference[regoin]"}
    missing = got["max_disparity_difference[regoin]"]
    assert missing["passed"] is False and "not in the result" in missing["reason"] and "'region'" in missing["reason"]


def test_checks_select_the_disparity_rules():
    assert set(rules(make_result(), only("disparity", checks=("ratio",)))) == {"min_disparity_ratio[region]"}


def test_no_groupings_skips_disparity():
    result = make_result()
    result["disparity"] = []
    rule = rules(result, only("disparity"))["disparity"]
    assert rule["passed"] and rule["skipped"] and rule["reason"].startswith("skipped: no groupings")
    result = make_result()
    result["disparity"] = result["disparity"][1:]
    assert "proxies" in rules(result, only("disparity"))["disparity"]["reason"]


def test_undefined_ratio_fails_closed():
    result = make_result()
    result["disparity"][0]["ratio"] = None
    assert rules(result, only("disparity"))["min_disparity_ratio[region]"]["passed"] is False


# --- checklist_complete ------------------------------------------------------------------------------


def test_checklist_complete_passes():
    rule = rules(make_result(), only("checklist"))["checklist_complete"]
    assert rule["passed"] and rule["value"] == 0 and rule["threshold"] == 0


@pytest.mark.parametrize(("index", "changes", "expected"), [
    (0, {"status": "open", "evidence": None}, "consent-1 is open"),
    (1, {"evidence": "  "}, "bias-1 is 'no' without a justification"),
    (2, {"evidence": None}, "oversight-1 is 'not applicable' without a justification"),
])
def test_checklist_fails_on_open_items_and_unjustified_no(index, changes, expected):
    result = make_result()
    result["checklist"]["items"][index].update(changes)
    rule = rules(result, only("checklist"))["checklist_complete"]
    assert rule["passed"] is False and rule["value"] == 1 and expected in rule["reason"]


def test_checklist_required_subset_ignores_other_items():
    result = make_result()
    result["checklist"]["items"][0]["status"] = "open"
    policy = only("checklist", required_items=("bias-1",), required_categories=("Lack of regulation and oversight",))
    assert rules(result, policy)["checklist_complete"]["passed"] is True
    policy = only("checklist", required_categories=("Informed consent",))
    assert rules(result, policy)["checklist_complete"]["passed"] is False


def test_checklist_unknown_required_id_fails_with_suggestion():
    rule = rules(make_result(), only("checklist", required_items=("bias-l",)))["checklist_complete"]
    assert rule["passed"] is False and "'bias-1'" in rule["reason"]


@pytest.mark.parametrize("section", [None, {"items": []}])
def test_missing_checklist_fails_closed(section):
    result = make_result()
    result["checklist"] = section
    rule = rules(result, only("checklist"))["checklist_complete"]
    assert rule["passed"] is False and "no checklist" in rule["reason"]


# --- baseline_no_regression: fails when loss > max_drop AND (p < alpha or no p) -----------------------


def test_no_baseline_is_skipped_unless_required():
    rule = rules(make_result(), only("baseline"))["baseline_no_regression"]
    assert rule["skipped"] and rule["passed"] and rule["reason"].startswith("skipped: no baseline")
    rule = rules(make_result(), only("baseline", require_baseline=True))["baseline_no_regression"]
    assert rule["passed"] is False and not rule["skipped"]


@pytest.mark.parametrize(("delta", "p", "passed"), [
    (-0.02, 0.001, True),          # exactly at max_drop: passes
    (-0.02 - EPS, 0.001, False),   # past it, significant
    (-0.05, 0.05, True),           # p == alpha is not significant
    (-0.05, 0.05 - EPS, False),
    (-0.05, None, False),          # aggregate-only baseline: no p, fails closed
    (-0.01, None, True),
    (0.05, 0.001, True),           # an improvement never fails
])
def test_baseline_boundaries(delta, p, passed):
    result = with_baseline(make_result(), overall_delta=delta, class_deltas={"dog": delta}, p_value=p)
    got = rules(result, only("baseline", max_drop=0.02, alpha=0.05))
    assert got["baseline_no_regression"]["passed"] is passed
    assert got["baseline_no_regression[dog]"]["passed"] is passed
    assert got["baseline_no_regression[cat]"]["passed"] is True
    assert got["baseline_no_regression[dog]"]["threshold"] == -0.02


def test_baseline_float_rounding_at_the_threshold_passes():
    result = with_baseline(make_result(), p_value=0.001)
    result["baseline"]["overall"].update(accuracy_before=0.72, accuracy_after=0.7, delta=0.7 - 0.72)
    assert 0.7 - 0.72 < -0.02  # in floats, just past the threshold
    assert rules(result, only("baseline"))["baseline_no_regression"]["passed"] is True


def test_baseline_overall_can_be_turned_off_and_null_delta_fails():
    result = with_baseline(make_result(), p_value=0.5)
    assert "baseline_no_regression" not in rules(result, only("baseline", overall=False))
    result["baseline"]["per_class"][0]["delta"] = None
    rule = rules(result, only("baseline"))["baseline_no_regression[cat]"]
    assert rule["passed"] is False and "undefined" in rule["reason"]


def test_baseline_reason_reads_as_one_line():
    result = with_baseline(make_result(), class_deltas={"cat": -0.05}, p_value=0.003)
    reason = rules(result, only("baseline"))["baseline_no_regression[cat]"]["reason"]
    assert reason == "recall of 'cat' 0.650 → 0.600 (Δ −0.050): loss above 0.02, McNemar p = 0.003 < 0.05"


def test_gate_fails_when_any_rule_fails_and_table_shows_it():
    result = make_result()
    result["calibration"]["ece"] = 0.2
    gate = evaluate(result, default_policy(), informational=False)
    assert gate["passed"] is False
    table = format_table(gate)
    assert "FAIL  max_ece" in table and table.splitlines()[-1].startswith("gate FAILED: 11 passed, 1 failed, 2 skipped")
