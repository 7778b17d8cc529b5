"""The [robustness] policy section and its gate rules, on hand-made robustness sections."""

from __future__ import annotations

import dataclasses

import pytest

from audit.errors import AuditError
from audit.gate.policy import default_policy, load_policy, template_text
from audit.gate.robustness import MSG_NOT_RUN
from audit.gate.verdict import evaluate


def section(clean=0.8, cells=None, mean_ece=0.12, after=0.08):
    """A robustness section: by default two corruptions, severities 1-5."""
    if cells is None:
        cells = [("fog", s, a) for s, a in zip(range(1, 6), (0.76, 0.72, 0.68, 0.6, 0.5))]
        cells += [("contrast", s, a) for s, a in zip(range(1, 6), (0.6, 0.5, 0.4, 0.3, 0.2))]
    cells = [{"corruption": c, "severity": s, "n": 100, "accuracy": a, "ece": 0.1, "nll": 1.0} for c, s, a in cells]
    accs = [c["accuracy"] for c in cells]
    return {"clean": {"accuracy": clean}, "cells": cells, "mean_accuracy": sum(accs) / len(accs) if accs else None,
            "mean_ece": mean_ece, "mean_ece_after_scaling": after}


def rules_of(result, policy):
    gate = evaluate(result, policy, informational=False)
    return {r["name"]: r for r in gate["rules"] if r["name"].startswith("robustness")}


def only_robustness(policy=None, **changes):
    policy = policy or default_policy()
    off = {name: dataclasses.replace(getattr(policy, name), enabled=False)
           for name in ("accuracy", "class_error", "calibration", "disparity", "checklist", "baseline")}
    return dataclasses.replace(policy, **off, robustness=dataclasses.replace(policy.robustness, **changes))


def test_worked_values_against_thresholds():
    rules = rules_of({"robustness": section()}, only_robustness())
    # mean accuracy: fog (.76+.72+.68+.6+.5)/5 = .652, contrast .4 -> .526 >= .50
    assert rules["robustness_min_mean_accuracy"]["value"] == pytest.approx(0.526)
    assert rules["robustness_min_mean_accuracy"]["passed"]
    # fog: mild mean (.76+.72+.68)/3 = .72, drop (.8 − .72)/.8 = .10 ≤ .25
    fog = rules["robustness_max_relative_drop[fog]"]
    assert fog["value"] == pytest.approx(0.10) and fog["passed"]
    # contrast: mild mean .5, drop (.8 − .5)/.8 = .375 > .25
    contrast = rules["robustness_max_relative_drop[contrast]"]
    assert contrast["value"] == pytest.approx(0.375) and not contrast["passed"]
    assert rules["robustness_max_ece"]["value"] == 0.12 and rules["robustness_max_ece"]["passed"]


def test_boundaries_pass_and_ece_after_scaling():
    policy = only_robustness(min_mean_accuracy=0.526, max_ece=0.08, ece_scaling="after",
                             overrides=(("contrast", 0.375),))
    rules = rules_of({"robustness": section()}, policy)
    assert all(r["passed"] for r in rules.values()), rules
    assert rules["robustness_max_ece"]["value"] == 0.08


def test_not_run_is_skipped_unless_required():
    rules = rules_of({}, only_robustness())
    assert rules["robustness"]["skipped"] and rules["robustness"]["passed"]
    rules = rules_of({"robustness": None}, only_robustness(required=True))
    assert not rules["robustness"]["passed"] and rules["robustness"]["reason"] == MSG_NOT_RUN


def test_fails_closed_on_undefined_numbers():
    broken = section()
    broken["mean_accuracy"] = None
    broken["mean_ece"] = float("nan")
    broken["clean"] = {"accuracy": None}
    rules = rules_of({"robustness": broken}, only_robustness())
    assert not rules["robustness_min_mean_accuracy"]["passed"]
    assert not rules["robustness_max_ece"]["passed"]
    assert not rules["robustness_max_relative_drop[fog]"]["passed"]
    assert not rules_of({"robustness": "x"}, only_robustness())["robustness"]["passed"]


def test_no_mild_cells_and_override_of_a_corruption_not_run_fail():
    only_severe = section(cells=[("fog", 4, 0.6), ("fog", 5, 0.5)])
    rules = rules_of({"robustness": only_severe}, only_robustness(overrides=(("snow", 0.5),)))
    assert not rules["robustness_max_relative_drop[fog]"]["passed"]
    assert "severities ≤ 3" in rules["robustness_max_relative_drop[fog]"]["reason"]
    assert not rules["robustness_max_relative_drop[snow]"]["passed"]
    assert "did not run" in rules["robustness_max_relative_drop[snow]"]["reason"]


def test_policy_file_section_and_overrides(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[robustness]\nrequired = true\nmax_ece = 0.2\n[robustness.overrides]\nglass_blur = 0.5\n")
    rule = load_policy(path).robustness
    assert rule.required and rule.max_ece == 0.2 and rule.drop_threshold_for("glass_blur") == 0.5
    assert rule.drop_threshold_for("fog") == default_policy().robustness.max_relative_drop


@pytest.mark.parametrize("text, message", [
    ("[robustness.overrides]\nglass_blurr = 0.5\n", "did you mean 'glass_blur'"),
    ("[robustness.overrides]\nfog = 1.5\n", "must be in [0, 1]"),
    ("[robustness]\nece_scaling = \"later\"\n", "must be one of"),
    ("[robustness]\nmin_mean_acc = 0.5\n", "unknown key 'robustness.min_mean_acc'"),
])
def test_bad_robustness_policy_is_one_line_error(tmp_path, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(AuditError) as info:
        load_policy(path)
    assert message in str(info.value) and str(info.value).startswith(str(path))


def test_every_robustness_threshold_has_a_why_comment():
    lines = template_text().splitlines()
    start = lines.index("[robustness]")
    for key in ("min_mean_accuracy = ", "max_relative_drop = ", "max_ece = "):
        line = next(i for i in range(start, len(lines)) if lines[i].startswith(key))
        comment = []
        for prev in reversed(lines[start:line]):
            if not prev.startswith("#"):
                break
            comment.append(prev)
        assert any("Why" in c for c in comment), key


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 9), st.floats(allow_nan=True), st.text(max_size=4),
                    st.lists(st.integers(0, 5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["clean", "cells", "mean_accuracy", "mean_ece", "mean_ece_after_scaling",
                                            "cells.0", "cells.0.severity", "cells.0.accuracy", "clean.accuracy",
                                            "examples", "by_severity", "per_class", "groups", "corruptions",
                                            "severities", "cells.0.corruption"]), _VALUES), max_size=4))
def test_mutated_sections_give_rules_or_failures_never_exceptions(mutations):
    from audit.render.robustness import robustness_view

    sec = section()
    for path, value in mutations:
        *parents, key = path.split(".")
        target = sec
        for p in parents:
            target = target[int(p)] if isinstance(target, list) and p.isdigit() and len(target) > int(p) else \
                (target.get(p) if isinstance(target, dict) else None)
        if isinstance(target, dict):
            target[key] = value
        elif isinstance(target, list) and key.isdigit() and len(target) > int(key):
            target[int(key)] = value
    rules = rules_of({"robustness": sec}, only_robustness())
    assert rules and all(isinstance(r["passed"], bool) for r in rules.values())
    robustness_view({"robustness": sec})


@pytest.mark.parametrize("edit, fragment", [
    (lambda s: s.update(mean_accuracy=1.5), "robustness.mean_accuracy"),
    (lambda s: s.pop("cells"), "missing key 'robustness.cells'"),
    (lambda s: s["cells"][0].update(severity="3"), "robustness.cells[0].severity"),
    (lambda s: s.update(clean=[0.8]), "robustness.clean"),
])
def test_stored_robustness_section_is_validated(tmp_path, edit, fragment):
    from helpers.gate_fixtures import make_result, write_result

    from audit.result.load import load_audit_json

    result = make_result()
    result["robustness"] = section()
    assert load_audit_json(write_result(tmp_path / "ok.json", result))["robustness"]["cells"]
    edit(result["robustness"])
    with pytest.raises(AuditError) as info:
        load_audit_json(write_result(tmp_path / "bad.json", result))
    assert fragment in str(info.value)
