"""One test per predictions-file row of docs/bad-input.md: each names the file and the problem."""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pytest

from audit.errors import AuditError
from audit.predictions import MSG_EMPTY, MSG_LOGITS
from audit.sources import iter_prediction_chunks, load_predictions, save_npz, save_table
from audit.sources.sniff import MSG_EMPTY_FILE, MSG_NO_SUCH_FILE

from .conftest import LABELS, NAMES, PROBS, assert_clear, csv_text, write_csv, write_npz


def load_error(path, **kwargs) -> pytest.ExceptionInfo:
    with pytest.raises(AuditError) as info:
        load_predictions(path, **kwargs)
    return info


def test_npz_missing_key_names_the_key_and_lists_present(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=PROBS, label=LABELS)
    # 'label' is misspelt: the unknown key is reported first, listing the valid ones
    assert_clear(load_error(path), path, "unknown key(s) 'label'", "valid keys: probs, labels")
    path = write_npz(tmp_path / "q.npz", probs=PROBS)
    assert_clear(load_error(path), path, "missing key 'labels'", "keys present: 'probs'")


def test_table_missing_label_column(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text().replace("label,", "target,", 1))
    assert_clear(load_error(path), path, "missing column 'label'", "'target', 'prob_cat'")


def test_table_without_probability_columns(tmp_path):
    path = write_csv(tmp_path / "p.csv", "label,cat,dog\n0,0.5,0.5\n")
    assert_clear(load_error(path), path, "no probability columns (named prob_<class name>)", "'cat'")


@pytest.mark.parametrize(
    "arrays, fragment",
    [
        ({"probs": PROBS.ravel(), "labels": LABELS}, "must be a 2-D array"),
        ({"probs": PROBS, "labels": LABELS[:3]}, "disagree on N: 3 labels, 4 probability rows"),
        ({"probs": PROBS, "labels": LABELS[:, None, None]}, "labels must be a 1-D array"),
        ({"probs": PROBS, "labels": LABELS, "sample_ids": np.array(["a", "b"])}, "sample_ids must have shape (4,)"),
        ({"probs": PROBS, "labels": LABELS, "group_g": np.array(["a"])}, "group column 'g' must have shape (4,)"),
        ({"probs": PROBS[:, :1] * 0 + 1, "labels": LABELS * 0}, "need at least 2 classes"),
        ({"probs": PROBS, "labels": LABELS, "class_names": np.array([NAMES])}, "class_names must be a 1-D array"),
    ],
)
def test_npz_wrong_shapes(tmp_path, arrays, fragment):
    path = write_npz(tmp_path / "p.npz", **arrays)
    assert_clear(load_error(path), path, fragment)


@pytest.mark.parametrize("kind", ["npz", "csv", "parquet"])
def test_zero_rows(tmp_path, kind):
    if kind == "npz":
        path = write_npz(tmp_path / "p.npz", probs=np.zeros((0, 3)), labels=np.zeros(0, dtype=int))
    elif kind == "csv":
        path = write_csv(tmp_path / "p.csv", "label,prob_a,prob_b\n")
    else:
        import pandas as pd

        path = tmp_path / "p.parquet"
        pd.DataFrame({"label": np.zeros(0, int), "prob_a": np.zeros(0), "prob_b": np.zeros(0)}).to_parquet(path)
    assert_clear(load_error(path), path, MSG_EMPTY)
    with pytest.raises(AuditError) as info:
        list(iter_prediction_chunks(path, chunk_rows=2))
    assert_clear(info, path, MSG_EMPTY)


def test_nan_probabilities(tmp_path):
    probs = PROBS.copy()
    probs[2, 1] = np.nan
    path = write_npz(tmp_path / "p.npz", probs=probs, labels=LABELS)
    assert_clear(load_error(path), path, "NaN or infinity", "first in row 2")
    path = write_csv(tmp_path / "p.csv", "label,prob_a,prob_b\n0,0.5,0.5\n1,,1.0\n")  # an empty cell
    assert_clear(load_error(path), path, "NaN or infinity", "first in row 1")


def test_infinite_probabilities(tmp_path):
    path = write_csv(tmp_path / "p.csv", "label,prob_a,prob_b\n0,0.5,0.5\n1,inf,0\n")
    assert_clear(load_error(path), path, "NaN or infinity", "first in row 1")


def test_negative_probabilities(tmp_path):
    path = write_csv(tmp_path / "p.csv", "label,prob_a,prob_b,prob_c\n0,0.5,0.5,0\n1,0.6,0.5,-0.1\n")
    assert_clear(load_error(path), path, "must lie in [0, 1]", "row 1 has", "-0.1")


def test_rows_not_summing_to_one(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=PROBS * 0.5, labels=LABELS)
    assert_clear(load_error(path), path, "rows must sum to 1", "4 row(s) do not, first row 0 sums to 0.5")


def test_logits(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=np.log(PROBS) * 3, labels=LABELS)
    assert_clear(load_error(path), path, MSG_LOGITS)


def test_labels_out_of_range(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(labels=[0, 1, 3, 2]))
    assert_clear(load_error(path), path, "labels must lie in [0, 2]", "got 3")
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=np.array([0, -1, 1, 2]))
    assert_clear(load_error(path), path, "got -1")


def test_labels_not_integers(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(labels=[0, 1.5, 1, 2]))
    assert_clear(load_error(path), path, "labels must be integers; got non-integer values")
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=np.array([True, False, True, True]))
    assert_clear(load_error(path), path, "labels must be integers; got dtype bool")


def test_label_name_not_a_class(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(labels=["cat", "dog", "dgo", "bird"]))
    assert_clear(load_error(path), path, "label 'dgo' in row 2 is not a class name", "cat, dog, bird")
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=np.array(["cat", "dog", "dog", "bird"]))
    assert_clear(load_error(path), path, "labels are class names but the file gives no class names")


def test_missing_labels(tmp_path):
    path = write_csv(tmp_path / "p.csv", "label,prob_a,prob_b\n0,0.5,0.5\n,0.5,0.5\n")
    assert_clear(load_error(path), path, "labels have 1 missing value(s), first in row 1")


def test_class_name_count_mismatch(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS, class_names=np.array(["cat", "dog"]))
    assert_clear(load_error(path), path, "2 class names for 3 probability columns")


def test_duplicate_class_names(tmp_path):
    names = np.array(["cat", "dog", "cat"])
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS, class_names=names)
    assert_clear(load_error(path), path, "class names must be distinct; repeated: cat")
    path = write_csv(tmp_path / "p.csv", csv_text(names=names))
    assert_clear(load_error(path), path, "duplicate column name(s) 'prob_cat'")


def test_class_names_differ_from_expected(tmp_path, pred):
    path = save_npz(tmp_path / "p.npz", pred)
    info = load_error(path, class_names=["cat", "dog", "frog"])
    assert_clear(info, path, "class names ['cat', 'dog', 'bird'] differ from the expected ['cat', 'dog', 'frog']")


def test_duplicate_sample_ids(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(extra={"sample_id": ["x", "y", "x", "z"]}))
    assert_clear(load_error(path), path, "sample ids must be unique; 'x' appears 2 times")


def test_missing_sample_ids(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(extra={"sample_id": ["x", "y", "", "z"]}))
    assert_clear(load_error(path), path, "sample ids have 1 missing value(s), first in row 2")


def test_group_column_with_missing_values(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(extra={"region": ["n", "", "s", "NA"]}))
    info = load_error(path, group_cols=["region"])
    assert_clear(info, path, "group column 'region' has 1 missing value(s), first in row 1", "'unknown'")
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS, group_region=np.array([1.0, np.nan, 2, 3]))
    assert_clear(load_error(path), path, "group column 'region' has 1 missing value(s)")


def test_unknown_group_column(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS, group_region=np.array(list("nsns")))
    info = load_error(path, group_cols=["regoin"])
    assert_clear(info, path, "unknown group column 'regoin'; available group columns: region")
    path = write_csv(tmp_path / "p.csv", csv_text(extra={"group_sex": list("fmfm"), "site": list("aabb")}))
    info = load_error(path, group_cols=["region"])
    assert_clear(info, path, "unknown group column 'region'", "group_* columns: sex", "other columns: 'site'")


def test_ambiguous_group_column(tmp_path):
    path = write_csv(tmp_path / "p.csv", csv_text(extra={"group_site": list("aabb"), "site": list("abab")}))
    assert_clear(load_error(path, group_cols=["site"]), path, "group column 'site' is ambiguous")


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("p.npz", b"label,prob_a,prob_b\n0,0.5,0.5\n", "named .npz but the content is text starting 'label,prob_a"),
        ("p.csv", None, "named .csv but the content is a ZIP archive"),
        ("p.parquet", "truncate", "named .parquet but the content is a truncated Parquet file"),
        ("p.csv", gzip.compress(b"label,prob_a\n"), "named .csv but the content is a gzip-compressed file"),
        ("p.parquet", b"\x89PNG\r\n\x1a\n" + bytes(40), "named .parquet but the content is a PNG image"),
        ("p.npz", b"\x80\x04\x95" + bytes(20), "named .npz but the content is a Python pickle"),
        ("p.csv", bytes(range(256)), "named .csv but the content is binary data of an unknown format"),
    ],
)
def test_file_not_what_its_extension_says(tmp_path, pred, name, content, fragment):
    path = tmp_path / name
    if content is None:
        save_npz(tmp_path / "x.npz", pred)
        path.write_bytes((tmp_path / "x.npz").read_bytes())
    elif content == "truncate":
        save_table(tmp_path / "x.parquet", pred)
        path.write_bytes((tmp_path / "x.parquet").read_bytes()[:-20])
    else:
        path.write_bytes(content)
    assert_clear(load_error(path), path, fragment)


def test_zip_that_is_not_an_npz(tmp_path):
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", b"")
    assert_clear(load_error(path), path, "not a NumPy .npz: member 'config.json'", "Keras model archive")


def test_corrupt_npz(tmp_path, pred):
    save_npz(tmp_path / "x.npz", pred)
    data = bytearray((tmp_path / "x.npz").read_bytes())
    data[60:200] = bytes(140)  # overwrite the first member's data
    path = tmp_path / "p.npz"
    path.write_bytes(bytes(data))
    assert_clear(load_error(path), path, "cannot read as a NumPy .npz file")


def test_pickled_object_array_is_refused(tmp_path):
    objects = np.array(["a", 1, None, 2.0], dtype=object)
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS, sample_ids=objects)
    assert_clear(load_error(path), path, "array 'sample_ids' holds Python objects", "pickled arrays are refused")
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "probs.npy", PROBS)
    np.save(folder / "labels.npy", objects, allow_pickle=True)
    info = load_error(folder)
    assert_clear(info, folder / "labels.npy", "array 'labels' holds Python objects")


def test_unknown_npz_key(tmp_path):
    path = write_npz(tmp_path / "p.npz", probs=PROBS, labels=LABELS, sample_id=np.array(list("abcd")))
    assert_clear(load_error(path), path, "unknown key(s) 'sample_id'", "sample_ids, group_<name>")
    folder = tmp_path / "npy"
    folder.mkdir()
    for key, values in {"probs": PROBS, "labels": LABELS, "prob": PROBS}.items():
        np.save(folder / f"{key}.npy", values)
    assert_clear(load_error(folder), folder, "unknown key(s) 'prob'")


@pytest.mark.parametrize("name", ["p.npz", "p.csv", "p.parquet"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    assert_clear(load_error(path), path, MSG_EMPTY_FILE)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    assert_clear(load_error(path), path, MSG_NO_SUCH_FILE)


def test_pattern_without_matches(tmp_path):
    pattern = str(tmp_path / "shards" / "*.parquet")
    assert_clear(load_error(pattern), pattern, "no file matches the pattern")


def test_unsupported_extension(tmp_path):
    path = write_csv(tmp_path / "p.txt", csv_text())
    assert_clear(load_error(path), path, "unsupported predictions file extension '.txt'", "use .npz, .csv")
    path = tmp_path / "probs.npy"
    np.save(path, PROBS)
    assert_clear(load_error(path), path, "a single NumPy .npy array", "in one folder")


def test_non_numeric_probability_column(tmp_path):
    path = write_csv(tmp_path / "p.csv", "label,prob_a,prob_b\n0,0.5,0.5\n1,high,0.5\n")
    assert_clear(load_error(path), path, "column 'prob_a' must hold numbers; row 1 has 'high'")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"label,prob_a,prob_b\n0,0.5,0.5\n1,0.5,0.5,0.1,7\n", "cannot read as CSV"),
        (b"label,prob_a,prob_b,g\n0,0.5,0.5,caf" + "\u00e9".encode("latin-1") + b"\n", "content is text that is not UTF-8"),
        (b"label,prob_a,prob_b\n" + b"0,0.5,0.5\n" * 2000 + b"1,0.5,0.5\xe9\n", "cannot read as CSV: UnicodeDecodeError"),
        (b"\n\n", "no header line"),
    ],
)
def test_malformed_csv(tmp_path, content, fragment):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    assert_clear(load_error(path), path, fragment)


def test_shards_with_different_classes_or_groups(tmp_path, pred):
    (tmp_path / "shards").mkdir()
    save_table(tmp_path / "shards" / "a.parquet", pred)
    other = pred.__class__(pred.labels, pred.probs, ("cat", "dog", "frog"), pred.sample_ids, pred.groups)
    save_table(tmp_path / "shards" / "b.parquet", other)
    pattern = str(tmp_path / "shards" / "*.parquet")
    info = load_error(pattern)
    assert_clear(info, tmp_path / "shards" / "b.parquet", "differ from the expected ['cat', 'dog', 'bird']")
    no_groups = pred.__class__(pred.labels, pred.probs, pred.class_names, None, {})
    save_table(tmp_path / "shards" / "b.parquet", no_groups)
    with pytest.raises(AuditError) as info:
        list(iter_prediction_chunks(pattern))
    assert_clear(info, tmp_path / "shards" / "b.parquet", "group columns [] differ from those of the first shard")


def test_duplicate_sample_ids_across_shards(tmp_path, pred):
    (tmp_path / "shards").mkdir()
    save_npz(tmp_path / "shards" / "a.npz", pred)
    save_npz(tmp_path / "shards" / "b.npz", pred)
    info = load_error(str(tmp_path / "shards" / "*.npz"))
    assert_clear(info, f"{tmp_path / 'shards' / 'a.npz'} and 1 other shard(s)", "sample ids must be unique")


def test_error_in_a_later_chunk_says_where_the_chunk_starts(tmp_path):
    labels = [0, 1, 0, 1, 5]
    path = write_csv(tmp_path / "p.csv", csv_text(labels=labels, probs=np.full((5, 2), 0.5), names=("a", "b")))
    with pytest.raises(AuditError) as info:
        list(iter_prediction_chunks(path, chunk_rows=2))
    assert_clear(info, path, "got 5", "in the chunk starting at data row 4")


@pytest.mark.parametrize("chunk_rows", [0, -1, 1.5, True])
def test_bad_chunk_rows(tmp_path, pred, chunk_rows):
    path = save_npz(tmp_path / "p.npz", pred)
    with pytest.raises(AuditError, match=r"chunk_rows must be an integer >= 1; got"):
        list(iter_prediction_chunks(path, chunk_rows=chunk_rows))
