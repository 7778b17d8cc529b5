"""Fuzzing the loaders: any bytes or arrays give a valid Predictions or an AuditError, nothing else."""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audit.errors import AuditError
from audit.predictions import Predictions
from audit.sources import iter_prediction_chunks, load_predictions

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(path: Path, **kwargs):
    """Load ``path`` whole and in chunks; only Predictions or AuditError are allowed."""
    try:
        pred = load_predictions(path, **kwargs)
        assert isinstance(pred, Predictions)
    except AuditError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
    try:
        for chunk in iter_prediction_chunks(path, chunk_rows=3, **kwargs):
            assert isinstance(chunk, Predictions)
    except AuditError:
        pass


def in_tmp(name: str, data: bytes, **kwargs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        outcome(path, **kwargs)


@FUZZ
@given(data=st.binary(max_size=2000), name=st.sampled_from(["p.npz", "p.csv", "p.parquet"]))
def test_random_bytes(data, name):
    in_tmp(name, data)


CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.integers(-3, 5).map(str),
    st.sampled_from(["", "nan", "NA", "cat", "dog", '"a,b"', "inf", "1e400", "0.5", "true"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=4),
)
HEADER = st.lists(
    st.sampled_from(["label", "prob_cat", "prob_dog", "sample_id", "group_g", "x", "prob_cat", "prob_"]),
    min_size=1, max_size=6,
)


@FUZZ
@given(header=HEADER, rows=st.lists(st.lists(CELL, min_size=0, max_size=7), max_size=6),
       group_cols=st.sampled_from([(), ("g",), ("x",), ("nope",)]))
def test_random_csv_tables(header, rows, group_cols):
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    in_tmp("p.csv", text.encode("utf-8", "surrogatepass"), group_cols=group_cols)


ARRAY = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.bool_, np.dtype("U3"), np.complex64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
KEYS = st.sampled_from(["probs", "labels", "class_names", "sample_ids", "group_g", "group_", "extra"])


@FUZZ
@given(arrays=st.dictionaries(KEYS, ARRAY, max_size=5), group_cols=st.sampled_from([(), ("g",), ("h",)]))
def test_random_npz_arrays(arrays, group_cols):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    in_tmp("p.npz", buf.getvalue(), group_cols=group_cols)


@FUZZ
@given(n=st.integers(1, 6), k=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_near_valid_npz(n, k, seed):
    """Valid-looking arrays with one random defect."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = rng.integers(0, k, n)
    defect = rng.integers(0, 6)
    if defect == 1:
        probs[rng.integers(n), rng.integers(k)] = rng.choice([np.nan, np.inf, -0.2, 2.0])
    elif defect == 2:
        labels[rng.integers(n)] = rng.choice([-1, k, 10**12])
    elif defect == 3:
        probs = probs[:, :-1]
    elif defect == 4:
        labels = labels.astype(float) + 0.5
    elif defect == 5:
        probs = np.log(probs + 1e-9)
    buf = io.BytesIO()
    np.savez(buf, probs=probs, labels=labels, class_names=np.array([f"c{i}" for i in range(k)]))
    in_tmp("p.npz", buf.getvalue())


@functools.cache
def valid_files() -> dict[str, bytes]:
    """A small valid file of each format, as bytes."""
    from audit.predictions import make_predictions
    from audit.sources import save_npz, save_table

    pred = make_predictions([0, 1, 1, 2, 0], np.full((5, 3), 1 / 3), ["a", "b", "c"],
                            sample_ids=list("vwxyz"), groups={"g": list("ppqqp")})
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["p.npz", "p.csv", "p.parquet"]:
            path = Path(tmp) / name
            (save_npz if name.endswith(".npz") else save_table)(path, pred)
            out[name] = path.read_bytes()
    return out


@FUZZ
@given(name=st.sampled_from(["p.csv", "p.npz", "p.parquet"]), data=st.data())
def test_damaged_valid_files(name, data):
    """A valid file with a few bytes overwritten, or cut short."""
    blob = bytearray(valid_files()[name])
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(blob)))
    in_tmp(name, bytes(blob[:cut]))
