import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, true_positive_rate
from sklearn.metrics import accuracy_score

from audit.metrics.disparity import DENSE_MAX_CLASSES, ONE_GROUP, GroupCellAccumulator, disparity_entry


def entry_for(y, p, g, k):
    cells = GroupCellAccumulator(k).update(y, p, g).cells
    return disparity_entry(cells, [f"c{i}" for i in range(k)], name="g")


def test_hand_worked_with_a_group_of_one():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0, 1, 0, 0, 0])
    g = np.array(["a", "a", "a", "b", "c"])
    e = entry_for(y, p, g, 2)
    # a: 2/3 correct, b: 1/1, c: 0/1 (group of one sample); overall 3/5
    assert [x["accuracy"] for x in e["groups"]] == pytest.approx([2 / 3, 1.0, 0.0])
    assert [x["n"] for x in e["groups"]] == [3, 1, 1]
    assert e["overall"] == pytest.approx(0.6)
    assert e["difference"] == pytest.approx(1.0) and e["ratio"] == 0.0
    assert e["difference_to_overall"] == pytest.approx(0.6)  # |0 − 0.6|
    assert e["ratio_to_overall"] == pytest.approx(0.0)
    assert e["worst_group"] == "c" and e["best_group"] == "b"
    # class 1 TPR: a 1/2, c 0/1 (b has no class 1) -> gap 0.5; FPR of class 1: a 0/1, b 0/1 -> 0
    gaps = {r["class"]: r for r in e["per_class_gaps"]}
    assert gaps["c1"]["tpr_difference"] == pytest.approx(0.5)
    assert gaps["c1"]["fpr_difference"] == pytest.approx(0.0)


@pytest.mark.parametrize("seed", [0])
def test_matches_metricframe_on_raw_rows(seed):
    rng = np.random.default_rng(seed)
    n, k = 4000, 4
    y = rng.integers(0, k, n)
    p = np.where(rng.random(n) < 0.6, y, rng.integers(0, k, n))
    g = rng.choice(["north", "south", "east", "west", "tiny"], n, p=[0.3, 0.3, 0.2, 0.1999, 0.0001])
    g[0] = "tiny"
    e = entry_for(y, p, g, k)
    mf = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=p, sensitive_features=g)
    assert [x["accuracy"] for x in e["groups"]] == pytest.approx(mf.by_group.loc[[x["group"] for x in e["groups"]]].tolist())
    assert e["overall"] == pytest.approx(mf.overall)
    assert e["difference"] == pytest.approx(mf.difference())
    assert e["ratio"] == pytest.approx(mf.ratio())
    assert e["difference_to_overall"] == pytest.approx(mf.difference(method="to_overall"))
    assert e["ratio_to_overall"] == pytest.approx(mf.ratio(method="to_overall"))
    assert e["worst_group"] == mf.by_group.idxmin() and e["best_group"] == mf.by_group.idxmax()
    for c in range(k):
        big = g != "tiny"  # keep every group defining both rates for fairlearn's binary helpers
        tpr = MetricFrame(metrics=true_positive_rate, y_true=(y[big] == c).astype(int),
                          y_pred=(p[big] == c).astype(int), sensitive_features=g[big])
        fpr = MetricFrame(metrics=false_positive_rate, y_true=(y[big] == c).astype(int),
                          y_pred=(p[big] == c).astype(int), sensitive_features=g[big])
        sub = entry_for(y[big], p[big], g[big], k)["per_class_gaps"][c]
        assert sub["tpr_difference"] == pytest.approx(tpr.difference())
        assert sub["fpr_difference"] == pytest.approx(fpr.difference())


def test_chunks_merged_equal_whole():
    rng = np.random.default_rng(2)
    y, p = rng.integers(0, 3, 900), rng.integers(0, 3, 900)
    g = rng.choice(["x", "y", "z"], 900)
    whole = GroupCellAccumulator(3).update(y, p, g)
    a = GroupCellAccumulator(3).update(y[:10], p[:10], g[:10])
    a.merge(GroupCellAccumulator(3).update(y[10:], p[10:], g[10:]))
    assert sorted(a.cells) == sorted(whole.cells)
    for key in whole.cells:
        np.testing.assert_array_equal(a.cells[key], whole.cells[key])
    assert entry_for(y, p, g, 3) == disparity_entry(a.cells, ["c0", "c1", "c2"], name="g")


def test_single_group_has_no_gaps():
    e = entry_for(np.array([0, 1]), np.array([0, 0]), np.array(["only", "only"]), 2)
    # MetricFrame says difference 0 and ratio 1; with one group there is nothing to compare: null + reason
    assert e["difference"] is None and e["ratio"] is None and e["worst_group"] == "only"
    assert e["undefined_reason"] == ONE_GROUP
    assert all(r["tpr_difference"] is None for r in e["per_class_gaps"])


@pytest.mark.parametrize("k", [3, DENSE_MAX_CLASSES + 5])
def test_sparse_cells_above_dense_max_give_the_same_entry_as_dense(k, monkeypatch):
    """Above DENSE_MAX_CLASSES the cells are CSR arrays; every number equals the dense path's and
    fairlearn's MetricFrame on the raw samples."""
    import audit.metrics.disparity as d

    rng = np.random.default_rng(k)
    y, p = rng.integers(0, k, 400), rng.integers(0, k, 400)
    g = rng.integers(0, 150, 400).astype(str)  # many groups, most of them tiny
    sparse_entry = entry_for(y, p, g, k)
    monkeypatch.setattr(d, "DENSE_MAX_CLASSES", 10_000)
    dense_entry = entry_for(y, p, g, k)
    assert sparse_entry == dense_entry
    mf = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=p, sensitive_features=g)
    assert sparse_entry["difference"] == pytest.approx(mf.difference())
    by_group = {x["group"]: x["accuracy"] for x in sparse_entry["groups"]}
    assert by_group == pytest.approx(mf.by_group.to_dict())
    halves = GroupCellAccumulator(k).update(y[:200], p[:200], g[:200])
    halves.merge(GroupCellAccumulator(k).update(y[200:], p[200:], g[200:]))
    assert disparity_entry(halves.cells, [f"c{i}" for i in range(k)], name="g") == sparse_entry


def test_group_values_beyond_the_first_rows_are_coded():
    from audit.metrics.disparity import factorize

    values = np.array(["b"] * 5000 + ["a", "c"])
    codes, uniques = factorize(values)
    assert uniques.tolist() == ["a", "b", "c"]
    assert codes[-2:].tolist() == [0, 2] and (codes[:5000] == 1).all()
