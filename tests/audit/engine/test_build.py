import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from audit.engine.build import AuditAccumulator, build_result, build_result_streaming
from audit.render.text import summarize
from audit.errors import AuditError
from audit.predictions import make_predictions
from audit.thumbnails import png_data_uri

TOP_KEYS = {"schema_version", "tool", "run", "provenance", "conventions", "class_names", "overall",
            "per_class", "confusion_matrix", "confusion_matrix_normalized", "confusion_cells", "top_confusions",
            "calibration", "disparity", "mistakes"}


def assert_close(a, b, rel=1e-9):
    """Nested JSON values equal, floats to a relative tolerance."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_close(a[k], b[k], rel)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_close(x, y, rel)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=rel, abs=1e-12)
    else:
        assert a == b


def without_ranking(row: dict) -> dict:
    """A per_class row or overall section without the ranking metrics (which stream approximately)."""
    return {k: v for k, v in row.items() if not k.startswith(("roc_auc", "average_precision"))}


def random_pred(n=600, k=4, seed=0, images=False, groups=True):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k) * 0.5, n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, k, n))
    return make_predictions(
        labels, probs, [f"c{i}" for i in range(k)], sample_ids=[f"s{i}" for i in range(n)],
        groups={"site": rng.choice(["a", "b", "c"], n)} if groups else None,
        images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8) if images else None)


def test_result_has_the_schema_keys_and_is_strict_json():
    r = build_result(random_pred(images=True), n_bootstrap=50)
    assert TOP_KEYS <= set(r)
    json.dumps(r, allow_nan=False)
    assert r["schema_version"] == "3" and r["overall"]["n"] == 600
    cal = r["calibration"]
    for key in ("ece", "mce", "classwise_ece", "adaptive_ece", "brier", "nll", "n_bins", "bins",
                "temperature", "after_scaling", "ece_ci", "nll_clip"):
        assert key in cal, key
    assert set(cal["after_scaling"]) >= {"ece", "ece_ci", "mce", "classwise_ece", "adaptive_ece",
                                         "brier", "nll", "bins"}
    assert cal["temperature_fit"]["source"] == "cross-fit"
    for key in ("ece", "adaptive_ece", "nll", "argmax_ties", "macro_f1", "balanced_accuracy"):
        assert r["conventions"][key]


def test_disparity_group_column_and_image_proxies():
    r = build_result(random_pred(images=True), n_bootstrap=0)
    names = [(d["name"], d["kind"], d["proxy"]) for d in r["disparity"]]
    assert names == [("site", "group column", False), ("brightness", "image property", True),
                     ("contrast", "image property", True)]
    for d in r["disparity"][1:]:
        assert "proxy" in d["note"] and len(d["cut_points"]) == 2
        assert [g["group"] for g in d["groups"]] == ["low", "mid", "high"]  # natural order


def test_mistakes_gallery_ordered_with_thumbnails():
    pred = random_pred(images=True)
    r = build_result(pred, n_bootstrap=0, max_mistakes=5)
    m = r["mistakes"]
    assert len(m) == 5
    assert [x["confidence"] for x in m] == sorted((x["confidence"] for x in m), reverse=True)
    wrong = pred.predicted != pred.labels
    assert m[0]["confidence"] == pytest.approx(pred.confidence[wrong].max())
    assert all(x["thumbnail"].startswith("data:image/png;base64,") for x in m)
    assert m[0]["sample_id"] == f"s{m[0]['index']}"
    assert all(x["thumbnail"] is None for x in build_result(pred, n_bootstrap=0, images=False)["mistakes"])


def test_calibration_set_fits_the_temperature():
    pred, cal = random_pred(seed=1), random_pred(seed=2)
    r = build_result(pred, calibration=cal, calibration_source="cal.npz", n_bootstrap=0)
    fit = r["calibration"]["temperature_fit"]
    assert fit["source"] == "cal.npz" and fit["n"] == 600


def test_single_sample_and_absent_class():
    pred = make_predictions([1], [[0.2, 0.8, 0.0]], ["a", "b", "c"])
    r = build_result(pred, n_bootstrap=10)
    json.dumps(r, allow_nan=False)
    assert r["overall"]["accuracy"] == 1.0
    assert r["per_class"][0]["error_rate"] is None and r["per_class"][0]["error_rate_ci"] is None
    assert r["confusion_matrix_normalized"][0] is None
    assert r["calibration"]["temperature"] == 1.0
    assert "absent" not in summarize(r) and "undefined" in summarize(r)


def test_deterministic_for_a_seed():
    pred = random_pred(images=True)
    assert json.dumps(build_result(pred, seed=3, n_bootstrap=30)) == json.dumps(
        build_result(pred, seed=3, n_bootstrap=30))


def test_streaming_equals_in_memory_with_the_same_temperature():
    pred, cal = random_pred(n=1000, seed=4), random_pred(n=300, seed=5)
    whole = build_result(pred, calibration=cal, calibration_source="cal", n_bootstrap=40, images=False)
    chunks = [make_predictions(pred.labels[i:i + 170], pred.probs[i:i + 170], pred.class_names,
                               sample_ids=pred.sample_ids[i:i + 170],
                               groups={"site": pred.groups["site"][i:i + 170]})
              for i in range(0, 1000, 170)]
    streamed = build_result_streaming(chunks, class_names=pred.class_names, group_names=["site"],
                                      calibration=cal, calibration_source="cal", n_bootstrap=40)
    for key in ("confusion_matrix", "top_confusions", "disparity", "mistakes"):
        assert_close(streamed[key], whole[key])
    # ranking metrics stream from a histogram: equal within their stated bound (tests/audit/metrics)
    assert_close(without_ranking(streamed["overall"]), without_ranking(whole["overall"]))
    assert_close([without_ranking(r) for r in streamed["per_class"]],
                 [without_ranking(r) for r in whole["per_class"]])
    for key in ("ece", "ece_ci", "mce", "classwise_ece", "brier", "nll", "temperature"):
        assert streamed["calibration"][key] == pytest.approx(whole["calibration"][key], rel=1e-9), key
        if key != "temperature":
            assert streamed["calibration"]["after_scaling"][key] == pytest.approx(
                whole["calibration"]["after_scaling"][key], rel=1e-9), key
    assert streamed["calibration"]["adaptive_ece"] == pytest.approx(whole["calibration"]["adaptive_ece"], abs=5e-3)


def test_accumulator_shards_merge():
    pred = random_pred(n=500, seed=6)
    a = AuditAccumulator(pred.class_names, group_names=["site"], temperature=1.5)
    b = AuditAccumulator(pred.class_names, group_names=["site"], temperature=1.5)
    half = lambda s: make_predictions(pred.labels[s], pred.probs[s], pred.class_names,  # noqa: E731
                                      sample_ids=pred.sample_ids[s], groups={"site": pred.groups["site"][s]})
    a.update(half(slice(0, 200)))
    b.update(half(slice(200, 500)))
    whole = AuditAccumulator(pred.class_names, group_names=["site"], temperature=1.5).update(pred)
    merged = a.merge(b).finalize(n_bootstrap=20)
    full = whole.finalize(n_bootstrap=20)
    assert merged["confusion_matrix"] == full["confusion_matrix"]
    assert merged["mistakes"] == full["mistakes"]
    assert merged["calibration"]["after_scaling"]["ece"] == pytest.approx(full["calibration"]["after_scaling"]["ece"])


@pytest.mark.parametrize("temperature", [None, 1.5])
def test_large_chunks_run_in_row_blocks_with_the_one_pass_result(monkeypatch, temperature):
    import audit.engine.build as engine

    pred = random_pred(n=2300, seed=8)
    one_pass = AuditAccumulator(pred.class_names, group_names=["site"], temperature=temperature,
                                max_mistakes=50)
    one_pass._blocked = False
    one_pass.update(pred)
    monkeypatch.setattr(engine, "BLOCK_ROWS", 500)  # 5 blocks: 4 of 500 rows, one of 300
    results = {}
    for cores in (1, 2, 3):
        monkeypatch.setattr(engine, "available_cores", lambda cores=cores: cores)
        acc = AuditAccumulator(pred.class_names, group_names=["site"], temperature=temperature, max_mistakes=50)
        acc.update(pred)
        for got, want in zip(acc.last_top_label, one_pass.last_top_label):
            np.testing.assert_array_equal(got, want)
        results[cores] = acc.finalize(n_bootstrap=30)
    assert results[1] == results[2] == results[3]  # the same bits on any number of cores
    want = one_pass.finalize(n_bootstrap=30)
    assert results[2]["confusion_matrix"] == want["confusion_matrix"]
    assert results[2]["mistakes"] == want["mistakes"] and len(want["mistakes"]) == 50
    assert_close(results[2], want)


@pytest.mark.parametrize("value, expected", [("", 3), ("1", 1), ("2", 2), ("64", 3), ("0", 3), ("x", 3)])
def test_available_cores_honours_omp_num_threads(monkeypatch, value, expected):
    import os

    import audit.engine.build as engine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert engine.available_cores() == expected


def test_a_chunk_of_two_blocks_or_fewer_is_one_pass(monkeypatch):
    import audit.engine.build as engine

    monkeypatch.setattr(engine, "BLOCK_ROWS", 500)
    monkeypatch.setattr(AuditAccumulator, "_update_blocks", lambda *a: pytest.fail("split"))
    AuditAccumulator(["a", "b", "c", "d"], group_names=["site"]).update(random_pred(n=1000, seed=9))


def test_an_error_in_a_row_block_reaches_the_caller_and_changes_nothing(monkeypatch):
    import audit.engine.build as engine

    monkeypatch.setattr(engine, "BLOCK_ROWS", 500)
    monkeypatch.setattr(engine, "available_cores", lambda: 2)
    acc = AuditAccumulator(["c0", "c1", "c2", "c3"], group_names=["region"])
    with pytest.raises(AuditError, match="lacks the group column 'region'"):
        acc.update(random_pred(n=2000, seed=10))
    assert acc.n == 0 and acc.confusion.counts.sum() == 0 and acc.mistakes() == []


@pytest.mark.parametrize("field", ["probs", "sample_ids", "group", "scaled_probs"])
def test_row_blocks_refuse_a_field_longer_than_the_labels(monkeypatch, field):
    import types

    import audit.engine.build as engine

    monkeypatch.setattr(engine, "BLOCK_ROWS", 500)
    pred = random_pred(n=2000, seed=11)
    chunk = types.SimpleNamespace(labels=pred.labels[:1900], probs=pred.probs[:1900],
                                  groups={"site": pred.groups["site"][:1900]}, sample_ids=pred.sample_ids[:1900])
    scaled = None
    if field == "group":
        chunk.groups = {"site": pred.groups["site"]}
    elif field == "scaled_probs":
        scaled = pred.probs
    else:
        setattr(chunk, field, getattr(pred, field))
    name = "group column 'site'" if field == "group" else field
    with pytest.raises(AuditError, match=f"a chunk's {name} has 2000 rows; its labels have 1900"):
        AuditAccumulator(pred.class_names, group_names=["site"]).update(chunk, scaled_probs=scaled)


def test_row_blocks_after_earlier_rows_keep_global_mistake_indices(monkeypatch):
    import audit.engine.build as engine

    pred = random_pred(n=2600, seed=12)
    first, rest = slice(0, 300), slice(300, 2600)
    part = lambda s: make_predictions(pred.labels[s], pred.probs[s], pred.class_names,  # noqa: E731
                                      sample_ids=pred.sample_ids[s], groups={"site": pred.groups["site"][s]})
    one_pass = AuditAccumulator(pred.class_names, group_names=["site"], max_mistakes=60)
    one_pass._blocked = False
    one_pass.update(pred)
    monkeypatch.setattr(engine, "BLOCK_ROWS", 500)
    monkeypatch.setattr(engine, "available_cores", lambda: 2)
    acc = AuditAccumulator(pred.class_names, group_names=["site"], max_mistakes=60)
    acc.update(part(first)).update(part(rest))  # the second update runs in blocks
    assert acc.mistakes() == one_pass.mistakes()
    assert all(m["sample_id"] == f"s{m['index']}" for m in acc.mistakes())


def test_build_result_in_row_blocks_equals_one_pass(monkeypatch):
    import audit.engine.build as engine

    pred = random_pred(n=2300, seed=13)
    want = build_result(pred, n_bootstrap=30, images=False)
    monkeypatch.setattr(engine, "BLOCK_ROWS", 500)
    monkeypatch.setattr(engine, "available_cores", lambda: 2)
    got = build_result(pred, n_bootstrap=30, images=False)
    # exact adaptive ECE reads the concatenated top labels of the blocks, before and after scaling
    assert got["calibration"]["adaptive_ece"] == want["calibration"]["adaptive_ece"]
    assert got["calibration"]["after_scaling"]["adaptive_ece"] == want["calibration"]["after_scaling"]["adaptive_ece"]
    for key in ("overall", "per_class", "confusion_matrix", "calibration", "disparity", "mistakes"):
        assert_close(got[key], want[key])


def test_streaming_cross_fit_reads_twice():
    pred = random_pred(n=2000, seed=7, groups=False)
    chunks = lambda: (make_predictions(pred.labels[i:i + 500], pred.probs[i:i + 500], pred.class_names)  # noqa: E731
                      for i in range(0, 2000, 500))
    r = build_result_streaming(chunks, class_names=pred.class_names, n_bootstrap=0)
    assert r["calibration"]["temperature_fit"]["source"] == "cross-fit"
    mem = build_result(pred, n_bootstrap=0)
    assert r["calibration"]["temperature"] == pytest.approx(mem["calibration"]["temperature"], rel=0.15)
    with pytest.raises(AuditError, match="reads the data twice"):
        build_result_streaming(iter(list(chunks())), class_names=pred.class_names)


def test_summary_is_short_and_names_the_numbers():
    text = summarize(build_result(random_pred(images=True), n_bootstrap=0))
    assert 5 <= len(text.splitlines()) <= 12
    for word in ("accuracy", "worst class", "ECE", "disparity"):
        assert word in text


def test_png_thumbnail_round_trips_and_is_deterministic():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    uri = png_data_uri(img, scale=2)
    assert uri == png_data_uri(img, scale=2)
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert back.shape == (8, 10, 3) and (back[::2, ::2] == img).all()
    gray = png_data_uri(np.zeros((3, 3, 1), dtype=np.float32))
    assert gray.startswith("data:image/png;base64,")


def test_image_slices_list_terciles_low_mid_high_and_gaps_read_in_points():
    r = build_result(random_pred(images=True), n_bootstrap=0, images=False)
    slices = [d for d in r["disparity"] if d["kind"] == "image property"]
    assert slices and all([g["group"] for g in d["groups"]] == ["low", "mid", "high"] for d in slices)
    site = next(d for d in r["disparity"] if d["name"] == "site")
    assert [g["group"] for g in site["groups"]] == ["a", "b", "c"]
    line = next(x for x in summarize(r).splitlines() if "largest disparity" in x)
    d = max((d for d in r["disparity"]), key=lambda d: d["difference"])
    assert f"accuracy gap {100 * d['difference']:.1f} pp," in line and "%" not in line


def test_streaming_equals_in_memory_at_large_k_with_sparse_cells():
    """K = 150: group cells are sparse and the dense matrices absent; chunks merge to the same result."""
    from helpers.any_input import arrays

    labels, probs, groups = arrays(150, 900, seed=2, absent=(0, 1), never_predicted=(2,),
                                   group_sizes=[400, 300] + [5] * 40)
    names = [f"n{i:08d}" for i in range(150)]
    pred = make_predictions(labels, probs, names, groups=groups)
    whole = build_result(pred, n_bootstrap=0, images=False)
    assert whole["confusion_matrix"] is None and len(whole["disparity"][0]["groups"]) == 42
    chunks = [make_predictions(labels[i:i + 200], probs[i:i + 200], names, groups={"site": groups["site"][i:i + 200]})
              for i in range(0, 900, 200)]
    streamed = build_result_streaming(chunks, class_names=names, group_names=["site"], temperature=1.0,
                                      n_bootstrap=0)
    # ranking metrics are exact in memory and histogram-approximated when streamed (within their stated
    # *_bound, tested in tests/audit/metrics/test_ranking.py): compare everything else exactly
    approximate = {"roc_auc", "roc_auc_ci", "roc_auc_bound", "average_precision", "average_precision_ci",
                   "average_precision_bound", "roc_auc_macro", "roc_auc_weighted", "average_precision_macro",
                   "average_precision_weighted"}

    def exact_part(value):
        if isinstance(value, dict):
            return {k: exact_part(v) for k, v in value.items() if k not in approximate}
        if isinstance(value, list):
            return [exact_part(v) for v in value]
        return value

    for key in ("overall", "per_class", "confusion_cells", "top_confusions", "disparity"):
        assert_close(exact_part(streamed[key]), exact_part(whole[key]))


def test_confidence_sections_in_threads_are_identical_to_one_thread():
    from audit.engine.confidence import exact_sections
    from audit.metrics.ranking import THREAD_MIN_ROWS

    pred = random_pred(n=THREAD_MIN_ROWS + 5)
    top = (pred.probs.argmax(1), pred.probs.max(1))
    bodies = []
    for threads in (1, 2):
        body = build_result(pred, n_bootstrap=0)
        exact_sections(body, pred, top_label=top, scaled_top_label=top, threads=threads)
        bodies.append(body)
    assert bodies[0]["selective"] == bodies[1]["selective"] and bodies[0]["per_class"] == bodies[1]["per_class"]
