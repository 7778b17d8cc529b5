"""Disparity judged only where the data support it: minimum group size, point or interval, Bonferroni."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.any_input import result_for

from audit.gate.group_judging import judge_grouping
from audit.gate.policy import default_policy
from audit.gate.verdict import evaluate
from audit.metrics.intervals import wilson_interval


def entry(*groups):
    """A disparity entry from (name, n, n_correct) triples, with fairlearn-style point numbers."""
    rows = [{"group": g, "n": n, "n_correct": c, "accuracy": c / n if n else None} for g, n, c in groups]
    accs = [r["accuracy"] for r in rows if r["accuracy"] is not None]
    return {"name": "site", "proxy": False, "groups": rows, "difference": max(accs) - min(accs),
            "ratio": min(accs) / max(accs)}


# a: 40/50 right, b: 20/50, tiny: 0/1 (a group of one sample, wrong)
HAND = entry(("a", 50, 40), ("b", 50, 20), ("tiny", 1, 0))


def test_point_without_minimum_is_fairlearns_numbers():
    j = judge_grouping(HAND, min_group_size=1, use="point", multiplicity="none")
    assert (j.difference, j.ratio, j.worst, j.worst_group) == (pytest.approx(0.8), 0.0, 0.0, "tiny")


def test_point_with_minimum_leaves_the_tiny_group_out_and_counts_it():
    j = judge_grouping(HAND, min_group_size=30, use="point", multiplicity="none")
    assert (j.n_judged, j.n_not_judged, j.n_not_judged_samples) == (2, 1, 1)
    assert j.difference == pytest.approx(0.8 - 0.4) and j.ratio == pytest.approx(0.5)
    assert (j.worst, j.worst_group) == (pytest.approx(0.4), "b")


def test_interval_bonferroni_hand_worked():
    """m = 2 judged groups: each interval at 1 − 0.05/2 = 97.5%; the numbers are the bounds least
    unfavourable to the model."""
    j = judge_grouping(HAND, min_group_size=30, use="interval", multiplicity="bonferroni")
    a_lo, a_hi = wilson_interval(40, 50, 0.975)
    b_lo, b_hi = wilson_interval(20, 50, 0.975)
    assert j.confidence == pytest.approx(0.975)
    assert j.worst == pytest.approx(b_hi) and j.worst_group == "b"
    assert j.difference == pytest.approx(max(0.0, a_lo - b_hi))
    assert j.ratio == pytest.approx(min(1.0, b_hi / a_lo))
    # z(0.9875) = 2.2414: b's upper bound by the Wilson formula, by hand
    z, p, n = 2.241403, 0.4, 50
    hi = (p + z * z / (2 * n) + z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5)) / (1 + z * z / n)
    assert j.worst == pytest.approx(hi, abs=1e-6)
    assert j.difference > 0  # 80% against 40% of 50 each: a gap the data establish


def test_unadjusted_intervals_are_narrower():
    adjusted = judge_grouping(HAND, min_group_size=30, use="interval", multiplicity="bonferroni")
    plain = judge_grouping(HAND, min_group_size=30, use="interval", multiplicity="none")
    assert plain.confidence == 0.95 and plain.difference > adjusted.difference


def test_unreadable_group_fails_closed():
    bad = entry(("a", 50, 40), ("b", 50, 20))
    bad["groups"][0]["n"] = "fifty"
    assert judge_grouping(bad, min_group_size=30, use="point", multiplicity="none") is None
    policy = dataclasses.replace(default_policy(), disparity=dataclasses.replace(default_policy().disparity))
    result = {"disparity": [bad]}
    rules = [r for r in evaluate(result, policy, informational=False)["rules"] if "site" in r["name"]]
    assert rules and all(not r["passed"] and not r["skipped"] for r in rules)


def gate_rules(result, **changes):
    policy = default_policy()
    policy = dataclasses.replace(policy, disparity=dataclasses.replace(policy.disparity, **changes))
    return {r["name"]: r for r in evaluate(result, policy, informational=False)["rules"]}


def test_issue_scenario_3000_ids_no_longer_fails_on_noise():
    """10,000 predictions, a column of 3,000 ids (groups of 1 to 6): the point estimate says 100 pp;
    the default policy judges no group that small, lists them, and skips with the reason."""
    r = result_for(10, 10_000, group_sizes=[4] * 2000 + [2] * 1000, accuracy=0.66)
    point = gate_rules(r, use="point", min_group_size=1)
    assert point["max_disparity_difference[site]"]["value"] == pytest.approx(1.0)
    assert not point["max_disparity_difference[site]"]["passed"]
    default = gate_rules(r)
    rule = default["max_disparity_difference[site]"]
    assert rule["skipped"] and "0 of 3000 groups have at least 30 samples" in rule["reason"]
    failing = gate_rules(r, too_few_groups="fail")["max_disparity_difference[site]"]
    assert not failing["passed"] and "failing closed" in failing["reason"]


def test_a_real_gap_in_a_large_group_still_fails_and_noise_passes():
    """Equal accuracy in 40 groups of 250 passes under Bonferroni intervals; one group of 500 at 30%
    against 66% elsewhere fails."""
    r = result_for(10, 10_000, group_sizes=[250] * 40, accuracy=0.66)
    rules = gate_rules(r)
    assert all(rules[f"{k}[site]"]["passed"] for k in
               ("max_disparity_difference", "min_disparity_ratio", "min_worst_group_accuracy"))
    assert "40 of 40 groups judged" in rules["max_disparity_difference[site]"]["reason"]
    entry_ = r["disparity"][0]
    entry_["groups"][0].update(n=500, n_correct=150, accuracy=0.3)
    rules = gate_rules(r)
    assert not rules["max_disparity_difference[site]"]["passed"]
    assert not rules["min_worst_group_accuracy[site]"]["passed"]
    assert "Bonferroni" in rules["max_disparity_difference[site]"]["reason"]


@pytest.mark.parametrize(("text", "message"), [
    ("[disparity]\nmin_group_size = 0\n", "key 'disparity.min_group_size' must be in [1, ∞); got 0"),
    ("[disparity]\nmin_group_size = 2.5\n", "key 'disparity.min_group_size' must be a whole number; got 2.5"),
    ('[disparity]\nuse = "mean"\n', "key 'disparity.use' must be one of 'interval', 'point'; got 'mean'"),
    ('[disparity]\nmultiplicity = "holm"\n', "key 'disparity.multiplicity' must be one of 'bonferroni', 'none'"),
    ('[disparity]\ntoo_few_groups = "warn"\n', "key 'disparity.too_few_groups' must be one of 'skip', 'fail'"),
    ('[model_card]\nrequired_fields = ["intended_users"]\n',
     "key 'model_card.required_fields[]' must be one of 'developers'"),
])
def test_bad_judging_and_model_card_keys(tmp_path, text, message):
    from audit.errors import AuditError
    from audit.gate.policy import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AuditError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}: {message}")
