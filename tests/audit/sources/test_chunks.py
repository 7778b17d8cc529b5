"""Reading in bounded chunks and from shards gives exactly the whole file's predictions."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_array_equal

from audit.errors import AuditError
from audit.predictions import make_predictions
from audit.sources import expand_sources, iter_prediction_chunks, load_predictions, save_npz, save_table


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(7)
    n, k = 1000, 4
    return make_predictions(
        rng.integers(0, k, n),
        rng.dirichlet(np.ones(k), size=n),
        ["w", "x", "y", "z"],
        sample_ids=[f"s{i}" for i in range(n)],
        groups={"site": rng.choice(["a", "b", "c"], n)},
    )


def concat(chunks):
    return (
        np.concatenate([c.labels for c in chunks]),
        np.concatenate([c.probs for c in chunks]),
        np.concatenate([c.sample_ids for c in chunks]),
        np.concatenate([c.groups["site"] for c in chunks]),
    )


def check_chunks(chunks, whole, chunk_rows):
    assert len(chunks) >= 2
    assert all(1 <= c.n_samples <= chunk_rows for c in chunks)
    assert all(c.class_names == whole.class_names for c in chunks)
    labels, probs, ids, site = concat(chunks)
    assert_array_equal(labels, whole.labels)
    assert_array_equal(probs, whole.probs)
    assert_array_equal(ids, whole.sample_ids)
    assert_array_equal(site, whole.groups["site"])


def test_large_file_is_read_in_bounded_chunks(tmp_path, big):
    """A file too large for memory: Parquet with several row groups, read batch by batch."""
    path = save_table(tmp_path / "p.parquet", big, row_group_size=300)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    chunks = list(iter_prediction_chunks(path, chunk_rows=128))
    check_chunks(chunks, big, 128)
    check_chunks(chunks, load_predictions(path), 128)


@pytest.mark.parametrize("name", ["p.csv", "p.npz", "npy"])
def test_other_formats_chunk_too(tmp_path, big, name):
    path = tmp_path / name
    if name == "npy":
        path.mkdir()
        np.save(path / "probs.npy", big.probs)
        np.save(path / "labels.npy", big.labels)
        np.save(path / "class_names.npy", np.array(big.class_names))
        np.save(path / "sample_ids.npy", big.sample_ids)
        np.save(path / "group_site.npy", big.groups["site"])
    elif name.endswith(".npz"):
        save_npz(path, big)
    else:
        save_table(path, big)
    chunks = list(iter_prediction_chunks(path, chunk_rows=300))
    assert [c.n_samples for c in chunks] == [300, 300, 300, 100]
    check_chunks(chunks, big, 300)


def test_npy_folder_chunks_are_memory_mapped_views(tmp_path, big):
    path = tmp_path / "npy"
    path.mkdir()
    np.save(path / "probs.npy", big.probs)
    np.save(path / "labels.npy", big.labels)
    from audit.sources.npz import open_npy_dir

    raw = open_npy_dir(path)
    assert isinstance(raw.probs, np.memmap)


def test_shards_by_glob_pattern(tmp_path, big):
    shards = tmp_path / "shards"
    shards.mkdir()
    parts = [(0, 400), (400, 700), (700, 1000)]
    for i, (a, b) in enumerate(parts):
        part = make_predictions(big.labels[a:b], big.probs[a:b], big.class_names,
                                sample_ids=big.sample_ids[a:b], groups={"site": big.groups["site"][a:b]})
        save_table(shards / f"part-{i}.parquet", part)
    pattern = str(shards / "*.parquet")
    assert [p.name for p in expand_sources(pattern)] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    check_chunks(list(iter_prediction_chunks(pattern, chunk_rows=250)), big, 250)
    whole = load_predictions(pattern)
    assert_array_equal(whole.probs, big.probs)
    assert_array_equal(whole.sample_ids, big.sample_ids)


def test_plain_path_is_not_expanded(tmp_path):
    assert expand_sources(tmp_path / "a.npz") == [tmp_path / "a.npz"]


def test_chunked_parquet_reads_only_the_needed_columns(tmp_path, big, monkeypatch):
    import pandas as pd

    frame = pd.DataFrame({"label": big.labels, **{f"prob_{n}": big.probs[:, k] for k, n in enumerate(big.class_names)},
                          "embedding_blob": ["x" * 100] * big.n_samples})
    frame.to_parquet(tmp_path / "p.parquet")
    seen = []
    original = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("columns"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    assert sum(c.n_samples for c in iter_prediction_chunks(tmp_path / "p.parquet", chunk_rows=500)) == 1000
    assert "embedding_blob" not in seen[0]


def test_an_empty_shard_is_an_error(tmp_path, big):
    (tmp_path / "s").mkdir()
    save_table(tmp_path / "s" / "a.csv", big)
    (tmp_path / "s" / "b.csv").write_text("label,prob_w,prob_x,prob_y,prob_z\n")
    with pytest.raises(AuditError, match=r"b\.csv: no predictions \(N = 0\)"):
        list(iter_prediction_chunks(str(tmp_path / "s" / "*.csv")))
