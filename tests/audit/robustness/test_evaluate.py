"""The robustness section: subset, cells, summaries, groups and the released-files path, with a
Keras-free predictor so every number can be recomputed here."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from audit.metrics.calibration import expected_calibration_error, negative_log_likelihood
from audit.metrics.temperature import apply_temperature
from audit.robustness import corrupt
from audit.robustness.evaluate import _breaks_at, evaluate_robustness, stratified_subset
from audit.robustness.released import ReleasedCorruptions

from .conftest import band_predict


def test_stratified_subset_keeps_class_shares_and_is_seeded():
    labels = np.repeat(np.arange(4), [40, 30, 20, 10])
    idx = stratified_subset(labels, 10, seed=0)
    assert list(np.bincount(labels[idx], minlength=4)) == [4, 3, 2, 1]
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, stratified_subset(labels, 10, seed=0))
    assert not np.array_equal(idx, stratified_subset(labels, 10, seed=1))
    # 7 of 100: exact shares 2.8 2.1 1.4 .7 -> floors 2 2 1 0, remainders .8 .7 .4 .1 give 2 more
    assert list(np.bincount(labels[stratified_subset(labels, 7, 0)], minlength=4)) == [3, 2, 1, 1]
    assert np.array_equal(stratified_subset(labels, None, 0), np.arange(100))
    assert np.array_equal(stratified_subset(labels, 500, 0), np.arange(100))


def test_breaks_at_worked():
    assert _breaks_at([0.8, 0.7, 0.65, 0.63, 0.5, 0.4]) == 3  # (.8 − .64)/.8 = .2 first at .63 < .64
    assert _breaks_at([0.8, 0.7, 0.7, 0.7, 0.7, 0.7]) is None
    assert _breaks_at([0.0, 0.0]) is None


@pytest.fixture(scope="module")
def section(synthetic):
    return evaluate_robustness(band_predict, synthetic.x_test, synthetic.y_test, synthetic.class_names,
                               corruptions=("contrast", "gaussian_noise"), severities=(1, 5), n_samples=100,
                               seed=2, temperature=1.5,
                               groups={"half": (np.arange(200) % 2, False)}, thumbnails=True)


def test_cells_recomputed_by_hand(synthetic, section):
    idx = stratified_subset(synthetic.y_test, 100, 2)
    x, y = synthetic.x_test[idx], synthetic.y_test[idx]
    assert [(c["corruption"], c["severity"]) for c in section["cells"]] == [
        ("contrast", 1), ("contrast", 5), ("gaussian_noise", 1), ("gaussian_noise", 5)]
    for cell in section["cells"]:
        probs = band_predict(corrupt(x, cell["corruption"], cell["severity"], seed=2))
        assert cell["n"] == 100
        assert cell["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == y))
        assert cell["ece"] == pytest.approx(expected_calibration_error(y, probs, 15))
        assert cell["ece_after_scaling"] == pytest.approx(expected_calibration_error(y, apply_temperature(probs, 1.5), 15))
        assert cell["nll"] == pytest.approx(negative_log_likelihood(y, probs))
        lo, hi = cell["accuracy_ci"]
        assert lo <= cell["accuracy"] <= hi
    assert section["clean"]["accuracy"] == pytest.approx(np.mean(band_predict(x).argmax(1) == y))


def test_summaries(section):
    cells = section["cells"]
    assert section["mean_accuracy"] == pytest.approx(np.mean([c["accuracy"] for c in cells]))
    assert section["mean_ece"] == pytest.approx(np.mean([c["ece"] for c in cells]))
    by = {r["severity"]: r for r in section["by_severity"]}
    assert list(by) == [0, 1, 5] and by[0]["accuracy"] == section["clean"]["accuracy"]
    assert by[5]["accuracy"] == pytest.approx(np.mean([c["accuracy"] for c in cells if c["severity"] == 5]))
    contrast = next(r for r in section["by_corruption"] if r["corruption"] == "contrast")
    clean = section["clean"]["accuracy"]
    assert contrast["mild_relative_drop"] == pytest.approx((clean - cells[0]["accuracy"]) / clean)
    assert section["sample"]["n"] == 100 and section["n_per_cell"] == 100


def test_per_class_and_groups(section):
    total = sum(r["n"] for r in section["per_class"])
    assert total == 100
    for row in section["per_class"]:
        assert row["drop"] == pytest.approx(row["clean_accuracy"] - row["accuracy"])
        assert len(row["accuracy_by_severity"]) == 3
    (half,) = section["groups"]
    assert half["name"] == "half" and not half["proxy"]
    assert [g["group"] for g in half["groups"]] == ["0", "1"]
    drops = {g["group"]: g["drop"] for g in half["groups"]}
    assert half["fastest_falling_group"] == max(drops, key=drops.get)


def test_examples_strip(section):
    ex = section["examples"]
    assert [r["corruption"] for r in ex["rows"]] == ["contrast", "gaussian_noise"]
    assert all(len(r["images"]) == 2 and r["images"][0].startswith("data:image/png;base64,") for r in ex["rows"])


def write_released(folder, x, y, names, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        np.save(folder / f"{name}.npy", np.concatenate([corrupt(x, name, s, seed=seed) for s in range(1, 6)]))
    np.save(folder / "labels.npy", np.tile(y, 5).astype(np.uint8))
    return folder


def test_released_files_give_the_generated_numbers(synthetic, tmp_path):
    x, y = synthetic.x_test, synthetic.y_test
    folder = write_released(tmp_path / "c", x, y, ("fog", "pixelate"))
    released = ReleasedCorruptions(folder, y, x.shape[1:])
    kwargs = dict(corruptions=("fog", "pixelate"), severities=(2, 4), n_samples=None, seed=0, thumbnails=False)
    a = evaluate_robustness(band_predict, x, y, synthetic.class_names, released=released, **kwargs)
    b = evaluate_robustness(band_predict, x, y, synthetic.class_names, **kwargs)
    assert a["source"] == "released" and b["source"] == "generated"
    assert [c["accuracy"] for c in a["cells"]] == [c["accuracy"] for c in b["cells"]]
    # a subset reads the same rows of each severity block
    rows = np.array([3, 50, 199])
    assert_allclose(released.block("fog", 4, rows), np.load(folder / "fog.npy")[3 * 200 + rows])
