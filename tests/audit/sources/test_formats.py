"""Each interchange format round-trips exactly, and the documented reading rules hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from audit.sources import detect_format, load_predictions, save_npz, save_table

from .conftest import LABELS, NAMES, PROBS, csv_text, write_csv, write_npz


def assert_same(a, b):
    assert a.class_names == b.class_names
    assert_array_equal(a.labels, b.labels)
    assert_array_equal(a.probs, b.probs)  # exact: CSV floats are written and read back round-trip
    assert (a.sample_ids is None) == (b.sample_ids is None)
    if a.sample_ids is not None:
        assert_array_equal(a.sample_ids, b.sample_ids)
    assert list(a.groups) == list(b.groups)
    for name in a.groups:
        assert_array_equal(a.groups[name], b.groups[name])


@pytest.mark.parametrize("name", ["p.npz", "p.csv", "p.parquet", "p.pq"])
def test_round_trip(tmp_path, pred, name):
    path = tmp_path / name
    (save_npz if name.endswith(".npz") else save_table)(path, pred)
    assert_same(load_predictions(path), pred)


def test_round_trip_of_random_floats_is_exact_in_csv(tmp_path):
    from audit.predictions import make_predictions

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=200)
    pred = make_predictions(rng.integers(0, 10, 200), probs)
    save_table(tmp_path / "p.csv", pred)
    assert_same(load_predictions(tmp_path / "p.csv"), pred)


def test_npy_folder_is_memory_mapped(tmp_path, pred):
    folder = tmp_path / "preds"
    folder.mkdir()
    np.save(folder / "probs.npy", PROBS)
    np.save(folder / "labels.npy", LABELS)
    np.save(folder / "class_names.npy", np.array(NAMES))
    np.save(folder / "sample_ids.npy", np.array(["a", "b", "c", "d"]))
    np.save(folder / "group_region.npy", np.array(["n", "s", "n", "s"]))
    (folder / "README.txt").write_text("files not ending in .npy are ignored")
    assert detect_format(folder) == "npy-dir"
    assert_same(load_predictions(folder), pred)


def test_table_column_order_gives_class_order_and_extra_columns_are_ignored(tmp_path):
    text = "note,prob_dog,label,prob_cat\nx,0.25,1,0.75\ny,0.5,0,0.5\n"
    got = load_predictions(write_csv(tmp_path / "p.csv", text))
    assert got.class_names == ("dog", "cat")
    assert_array_equal(got.labels, [1, 0])
    assert_array_equal(got.probs, [[0.25, 0.75], [0.5, 0.5]])
    assert dict(got.groups) == {}


def test_labels_may_be_class_names(tmp_path):
    got = load_predictions(write_csv(tmp_path / "p.csv", csv_text(labels=["cat", "dog", "dog", "bird"])))
    assert_array_equal(got.labels, LABELS)
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=np.array(["cat", "dog", "dog", "bird"]),
                     class_names=np.array(NAMES))
    assert_array_equal(load_predictions(path).labels, LABELS)
    path = write_npz(tmp_path / "q.npz", probs=PROBS, labels=np.array(["cat", "dog", "dog", "bird"]))
    assert_array_equal(load_predictions(path, class_names=NAMES).labels, LABELS)


def test_integer_labels_are_indices_even_when_class_names_are_digits(tmp_path):
    got = load_predictions(write_csv(tmp_path / "p.csv", csv_text(labels=[0, 1, 2, 1], names=("2", "1", "0"))))
    assert_array_equal(got.labels, [0, 1, 2, 1])
    assert got.class_names == ("2", "1", "0")


def test_class_names_default_and_expected(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS)
    assert load_predictions(path).class_names == ("class_0", "class_1", "class_2")
    assert load_predictions(path, class_names=NAMES).class_names == NAMES
    path = write_csv(tmp_path / "p.csv", csv_text())
    assert load_predictions(path, class_names=list(NAMES)).class_names == NAMES


@pytest.mark.parametrize("kind", ["npz", "csv"])
def test_group_selection(tmp_path, kind):
    groups = {"group_region": list("nsns"), "group_sex": list("ffmm")}
    if kind == "npz":
        path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS,
                         **{k: np.array(v) for k, v in groups.items()})
    else:
        path = write_csv(tmp_path / "p.csv", csv_text(extra={**groups, "site": list("aabb")}))
    assert list(load_predictions(path).groups) == ["region", "sex"]
    assert list(load_predictions(path, group_cols=["sex"]).groups) == ["sex"]
    assert list(load_predictions(path, group_cols=["sex", "sex"]).groups) == ["sex"]
    if kind == "csv":
        got = load_predictions(path, group_cols=["site", "region"])
        assert list(got.groups) == ["site", "region"]
        assert_array_equal(got.groups["site"], list("aabb"))


def test_group_values_are_text_and_na_is_a_value_in_csv(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(extra={"group_zip": ["01234", "NA", "01234", "None"]}))
    got = load_predictions(path)
    assert_array_equal(got.groups["zip"], ["01234", "NA", "01234", "None"])


def test_parquet_with_categorical_and_string_columns(tmp_path):
    frame = pd.DataFrame({
        "sample_id": pd.array(["a", "b", "c", "d"], dtype="string"),
        "label": pd.Categorical(["cat", "dog", "dog", "bird"]),
        **{f"prob_{n}": PROBS[:, k].astype(np.float32) for k, n in enumerate(NAMES)},
        "group_region": pd.Categorical(list("nsns")),
    })
    frame.to_parquet(tmp_path / "p.parquet")
    got = load_predictions(tmp_path / "p.parquet")
    assert_array_equal(got.labels, LABELS)
    np.testing.assert_allclose(got.probs, PROBS, rtol=1e-6)
    assert_array_equal(got.groups["region"], list("nsns"))
    assert_array_equal(got.sample_ids, list("abcd"))


def test_csv_with_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text().replace("\n", "\r\n").encode())
    got = load_predictions(path)
    assert got.class_names == NAMES
    assert_array_equal(got.labels, LABELS)


def test_saved_npz_loads_without_pickle(tmp_path, pred):
    save_npz(tmp_path / "p.npz", pred)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["class_names", "group_region", "labels", "probs", "sample_ids"]
        assert npz["class_names"].dtype.kind == "U"


def test_save_table_refuses_unknown_extension(tmp_path, pred):
    from audit.errors import AuditError

    with pytest.raises(AuditError, match=r"p\.xlsx: cannot write a table with extension '\.xlsx'"):
        save_table(tmp_path / "p.xlsx", pred)
