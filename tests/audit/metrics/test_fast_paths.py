"""The fast paths (blocked classwise binning, sort-free adaptive ECE, Newton temperature fit,
equality-coded group cells) against the straightforward computations they replace."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from audit.metrics.calibration import (
    _classwise_slot_blocks,
    _equal_mass_sizes,
    _fold_slots,
    adaptive_ece,
    bin_index,
    classwise_p_sums,
)
from audit.metrics.disparity import GroupCellAccumulator
from audit.metrics.temperature import fit_temperature


def _bin_index_trunc(values, n_bins):
    """The former rule: trunc(v · n), one lower when v · n is exactly an integer, clipped."""
    scaled = np.multiply(values, n_bins, dtype=np.float64)
    idx = scaled.astype(np.intp)
    idx -= idx == scaled
    return np.clip(idx, 0, n_bins - 1)


def test_every_edge_k_over_15_stays_in_its_lo_hi_bin():
    edges = np.arange(1, 16) / 15
    assert_array_equal(bin_index(edges, 15), np.arange(15))  # k/15 closes bin k − 1
    assert_array_equal(bin_index(edges[:-1] + 1e-9, 15), np.arange(1, 15))
    assert_array_equal(bin_index(np.array([0.0, -1e-7, 1.0, 1.0 + 1e-7]), 15), [0, 0, 14, 14])
    near = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 2),
                           np.random.default_rng(0).random(10_000)])
    for n_bins in (1, 2, 7, 15, 20):
        assert_array_equal(bin_index(near, n_bins), _bin_index_trunc(near, n_bins))


def _classwise_reference(probs, n_bins):
    n, k = probs.shape
    cw = bin_index(probs, n_bins) + np.arange(k) * n_bins
    count = np.bincount(cw.ravel(), minlength=k * n_bins).reshape(k, n_bins)
    p_sum = np.bincount(cw.ravel(), weights=probs.ravel(), minlength=k * n_bins).reshape(k, n_bins)
    return count, p_sum, float(np.einsum("ij,ij->", probs, probs))


def _blocked_counts(probs, n_bins):
    """Per class and bin sample counts from the same blocked slots that classwise_p_sums bins."""
    k = probs.shape[1]
    count = np.zeros(k * (n_bins + 2), dtype=np.int64)
    for _, slot in _classwise_slot_blocks(probs, n_bins):
        count += np.bincount(slot.reshape(-1), minlength=count.size)
    return _fold_slots(count, k, n_bins)


@pytest.mark.parametrize("k, n_bins", [(2, 15), (10, 15), (7, 4)])
def test_classwise_blocks_equal_the_whole_array_binning(k, n_bins):
    rng = np.random.default_rng(k)
    n = 40_000  # several blocks, the last one short
    probs = rng.dirichlet(np.full(k, 0.3), n)
    probs[:n_bins] = 0.0
    probs[:n_bins, 0] = np.arange(1, n_bins + 1) / n_bins  # exact edges
    probs[:n_bins, 1] = 1.0 - probs[:n_bins, 0]
    probs[n_bins:2 * n_bins] = np.eye(k)[rng.integers(0, k, n_bins)]  # exact 0 and 1
    count = _blocked_counts(probs, n_bins)
    p_sum, sq = classwise_p_sums(probs, n_bins)
    ref_count, ref_sum, ref_sq = _classwise_reference(probs, n_bins)
    assert_array_equal(count, ref_count)
    assert_allclose(p_sum, ref_sum, rtol=1e-12)
    assert sq == pytest.approx(ref_sq, rel=1e-12)


def _adaptive_lexsort(confidence, correct, n_bins):
    """The former implementation: one lexsort, then sums over consecutive equal-mass groups."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    order = np.lexsort((correct, confidence))
    sizes = _equal_mass_sizes(len(confidence), n_bins)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[sizes > 0]
    c = np.add.reduceat(confidence[order], starts)
    a = np.add.reduceat(correct[order], starts)
    return float(np.abs(a - c).sum() / len(confidence))


@pytest.mark.parametrize("seed", range(6))
def test_sort_free_adaptive_ece_equals_the_lexsort_one(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        n, n_bins = int(rng.integers(1, 80)), int(rng.integers(1, 20))
        conf = rng.choice([0.2, 0.5, 0.9, 1.0], n) if seed % 2 else rng.random(n)  # heavy ties
        correct = rng.random(n) < 0.6
        assert adaptive_ece(conf, correct, n_bins) == pytest.approx(
            _adaptive_lexsort(conf, correct, n_bins), abs=1e-15)


def _nll64(labels, probs, t):
    with np.errstate(divide="ignore"):
        z = np.log(probs) / t
    z -= z.max(axis=1, keepdims=True)
    nll = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]
    return float(np.minimum(nll, -np.log(1e-15)).mean())


@pytest.mark.parametrize("sharpen", [0.4, 1.0, 3.0])
def test_newton_fit_reaches_the_float64_minimum(sharpen):
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(7)
    logits = rng.normal(0, 2, (4000, 6)) / sharpen
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = (rng.random(4000)[:, None] > np.exp(logits * sharpen).cumsum(1)
              / np.exp(logits * sharpen).sum(1, keepdims=True)).sum(1)
    probs[:3] = np.eye(6)[(labels[:3] + 1) % 6]  # p_true = 0: clipped rows
    t = fit_temperature(labels, probs)
    ref = np.exp(minimize_scalar(lambda u: _nll64(labels, probs, np.exp(u)), method="bounded",
                                 bounds=(np.log(0.05), np.log(20)), options={"xatol": 1e-10}).x)
    assert t == pytest.approx(ref, rel=1e-5)
    assert _nll64(labels, probs, t) <= _nll64(labels, probs, ref) + 1e-12


def test_newton_fit_stops_at_the_bounds():
    probs = np.tile([0.6, 0.4], (100, 1))
    assert fit_temperature(np.r_[np.zeros(50, int), np.ones(50, int)], probs) == pytest.approx(20.0)
    assert fit_temperature(np.zeros(100, int), probs) == pytest.approx(0.05)


def test_group_cells_with_values_beyond_the_first_rows_and_many_values():
    rng = np.random.default_rng(3)
    labels, predicted = rng.integers(0, 3, 6000), rng.integers(0, 3, 6000)
    for groups in (np.array(["b"] * 5000 + ["a"] * 500 + ["c"] * 500),
                   rng.integers(0, 50, 6000).astype(str)):
        cells = GroupCellAccumulator(3).update(labels, predicted, groups).cells
        assert sorted(cells) == sorted(set(groups.tolist()))
        for g, block in cells.items():
            m = groups == g
            expected = np.bincount(labels[m] * 3 + predicted[m], minlength=9).reshape(3, 3)
            assert_array_equal(block, expected)


@pytest.mark.parametrize("k, n_bins", [(2, 15), (10, 15), (7, 4), (20, 15)])
def test_classwise_p_sums_equal_the_whole_array_binning(k, n_bins):
    from audit.metrics.calibration import classwise_p_sums

    rng = np.random.default_rng(k + 100)
    probs = rng.dirichlet(np.full(k, 0.3), 30_000)
    probs[:n_bins] = 0.0
    probs[:n_bins, 0] = np.arange(1, n_bins + 1) / n_bins  # exact edges
    probs[:n_bins, 1] = 1.0 - probs[:n_bins, 0]
    _, ref_sum, ref_sq = _classwise_reference(probs, n_bins)
    p_sum, sq = classwise_p_sums(probs, n_bins)
    assert_allclose(p_sum, ref_sum, rtol=1e-12)
    assert sq == pytest.approx(ref_sq, rel=1e-12)


def test_threaded_top_label_and_classwise_equal_the_serial_ones(monkeypatch):
    import audit.metrics.calibration as cal
    from audit.metrics.confusion import top_label

    probs = np.random.default_rng(3).dirichlet(np.full(10, 0.3), 40_000)
    monkeypatch.setattr(cal, "THREAD_MIN_VALUES", 1)
    pred, conf, (p_sum, sq) = cal.top_label_and_classwise(probs, 15)
    ref_pred, ref_conf = top_label(probs)
    assert_array_equal(pred, ref_pred)
    assert_array_equal(conf, ref_conf)
    ref_sum, ref_sq = cal.classwise_p_sums(probs, 15)
    assert_array_equal(p_sum, ref_sum) and sq == ref_sq


@pytest.mark.parametrize("values", [
    ["north", "south", "east", "west"],          # first character tells them apart
    ["a1", "a2", "b1", "b2"],                    # needs two positions
    ["abc1", "abd1", "abc2", "abd2", "xbc1"],    # two of four positions
    ["", "x", "xx", "xxx", "ü", "日本"],         # empty, prefixes, non-ASCII
    ["only"],
])
def test_head_codes_match_np_unique_and_refuse_unseen_values(values):
    from audit.metrics.disparity import factorize, _head_codes

    rng = np.random.default_rng(len(values))
    arr = np.array(values)[rng.integers(0, len(values), 5000)]
    head = np.unique(arr[:4096])
    codes = _head_codes(arr, head)
    ref_uniques, ref_codes = np.unique(arr, return_inverse=True)
    if head.size == ref_uniques.size:
        assert_array_equal(head[codes], arr)
        assert_array_equal(codes, ref_codes)
    unseen = arr.astype(f"<U{max(arr.dtype.itemsize // 4, 1) + 1}")
    unseen[-1] = values[0] + "z"  # same key characters as a head value, different string
    assert _head_codes(unseen, np.unique(unseen[:4096])) is None
    codes, uniques = factorize(unseen)
    assert_array_equal(uniques[codes], unseen)
    ints = rng.integers(0, 3, 5000)
    assert_array_equal(_head_codes(ints, np.unique(ints[:4096])), ints)


@pytest.mark.parametrize("dtype", ["U", "S"])
def test_factorize_of_many_strings_equals_np_unique(dtype):
    # more than 32 values in the first rows: the strings are coded by pandas' hash factorisation, sorted
    from audit.metrics.disparity import factorize

    rng = np.random.default_rng(7)
    names = np.array([f"site-{i}" for i in range(300)] + ["", "ü"] * (dtype == "U"), dtype=dtype)
    arr = names[rng.integers(0, names.size, 20_000)]
    codes, uniques = factorize(arr)
    ref_uniques, ref_codes = np.unique(arr, return_inverse=True)
    assert_array_equal(uniques, ref_uniques) and uniques.dtype == arr.dtype
    assert_array_equal(codes, ref_codes) and codes.dtype == np.int64
