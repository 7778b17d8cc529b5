import dataclasses

import pytest

from audit.gate.policy import default_policy, load_policy
from audit.gate.selective_rules import review_gap, reviewed_groups, selective_rules
from audit.errors import AuditError
from audit.metrics.intervals import wilson_interval
from helpers.gate_fixtures import make_result

EPS = 1e-6


def rule(**changes):
    return dataclasses.replace(default_policy().selective, **changes)


def by_name(result, r):
    return {x["name"]: x for x in selective_rules(result, r)}


def test_defaults_and_why():
    r = default_policy().selective
    assert (r.target_accuracy, r.min_coverage, r.max_review_gap, r.use, r.min_group_size) == (0.9, 0.5, 0.1, "point", 30)


@pytest.mark.parametrize("coverage, passed", [(0.5, True), (0.5 - EPS, False), (0.9, True)])
def test_min_coverage_boundary(coverage, passed):
    result = make_result()
    result["selective"]["coverage"] = coverage
    got = by_name(result, rule())["min_selective_coverage"]
    assert got["passed"] is passed and got["threshold"] == 0.5 and got["value"] == coverage
    assert "coverage at 90% accuracy" in got["reason"]


@pytest.mark.parametrize("load_south, passed", [(0.5, True), (0.5 + EPS, False), (0.3, True)])
def test_review_gap_boundary(load_south, passed):
    result = make_result()
    result["selective"]["by_group"][0]["groups"][1]["review_load"] = load_south
    got = by_name(result, rule())["max_review_load_gap[region]"]
    assert got["passed"] is passed and got["value"] == pytest.approx(abs(load_south - 0.4))


def test_proxies_only_when_asked_and_named_missing_grouping_fails():
    got = by_name(make_result(), rule(include_proxies=True))
    assert got["max_review_load_gap[brightness]"]["passed"] is False  # 0.7 vs 0.2
    got = by_name(make_result(), rule(groupings=("regoin",)))
    assert got["max_review_load_gap[regoin]"]["passed"] is False
    assert "'region'" in got["max_review_load_gap[regoin]"]["reason"]


def test_small_groups_are_left_out_and_too_few_groups_skip():
    result = make_result()
    groups = result["selective"]["by_group"][0]["groups"]
    groups.append({"group": "east", "n": 12, "review_load": 1.0, "coverage": 0.0})
    got = by_name(result, rule())["max_review_load_gap[region]"]
    assert got["passed"] and got["value"] == pytest.approx(0.04) and "east" in got["reason"]
    got = by_name(result, rule(min_group_size=151))["max_review_load_gap[region]"]
    assert got["skipped"] and got["passed"] and "fewer than two groups" in got["reason"]
    kept, left = reviewed_groups(groups, 30)
    assert [g["group"] for g in kept] == ["north", "south"] and left == ["east"]


def test_ci_lower_gap_uses_bonferroni_adjusted_wilson_intervals():
    groups = [{"group": "a", "n": 100, "review_load": 0.30}, {"group": "b", "n": 100, "review_load": 0.60}]
    lo_b, _ = wilson_interval(60, 100, confidence=1 - 0.05 / 2)
    _, hi_a = wilson_interval(30, 100, confidence=1 - 0.05 / 2)
    assert review_gap(groups, "ci_lower") == pytest.approx(lo_b - hi_a)
    assert review_gap(groups, "point") == pytest.approx(0.3)
    close = [{"group": "a", "n": 40, "review_load": 0.5}, {"group": "b", "n": 40, "review_load": 0.6}]
    assert review_gap(close, "ci_lower") == 0.0


def test_missing_section_or_other_target_fails_closed():
    result = make_result()
    del result["selective"]
    got = selective_rules(result, rule())
    assert [g["passed"] for g in got] == [False, False] and "no selective section" in got[0]["reason"]
    got = selective_rules(make_result(), rule(target_accuracy=0.95))
    assert not any(g["passed"] for g in got) and "target accuracy 0.9" in got[0]["reason"]


def test_undefined_coverage_fails_closed():
    result = make_result()
    result["selective"]["coverage"] = None
    assert by_name(result, rule())["min_selective_coverage"]["passed"] is False


@pytest.mark.parametrize("text, fragment", [
    ("[selective]\ntarget_accuracy = 0\n", "selective.target_accuracy"),
    ("[selective]\nmin_group_size = 0\n", "selective.min_group_size"),
    ("[selective]\nmin_group_size = 2.5\n", "must be a whole number"),
    ("[selective]\nuse = \"ci\"\n", "selective.use"),
    ("[selective]\nmin_coverag = 0.5\n", "did you mean"),
])
def test_bad_selective_keys_name_the_key(tmp_path, text, fragment):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AuditError) as info:
        load_policy(path)
    assert fragment in str(info.value) + str(getattr(info.value, "hint", ""))
