"""Audits beyond memory and beyond one machine: predictions shards streamed through mergeable
accumulators in one process, or the same accumulators run per shard on a Dask cluster (docs/scale.md).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import zipfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from audit.errors import AuditError
from audit.sources.load import DEFAULT_CHUNK_ROWS, MSG_SHARD_GROUPS, detect_format, iter_prediction_chunks

#: ``audit run --predictions`` streams (instead of loading every row) above this many rows in all.
STREAM_AUTO_ROWS = 2_000_000
#: Shard results merged per reduce task on Dask.
SPLIT_EVERY = 8
#: Bytes of a CSV file read to estimate its number of rows.
CSV_SAMPLE_BYTES = 1 << 20
#: Seconds `--dask ADDRESS` waits for the scheduler before giving up (one line, exit 2).
CONNECT_TIMEOUT = 10.0

MSG_NO_SOURCES = "no predictions files given"
MSG_CAL_CLASSES = "calibration set classes {found} differ from the audit set's {expected}"
MSG_DASK_SPEC = ("--dask must be a scheduler address (tcp://host:8786 or host:8786) or local[:N] "
                 "with N >= 1 workers; got {spec!r}")
MSG_DASK_CONNECT = "cannot reach the Dask scheduler at {address!r}: {reason}"


# ---------------------------------------------------------------------------------------------
# When to stream


def count_rows(source: str | Path) -> int:
    """Rows of one predictions file, read from its metadata (Parquet footer, ``.npy`` / ``.npz``
    headers) without reading the data; estimated from the first MiB for CSV."""
    source = Path(source)
    fmt = detect_format(source)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(source).metadata.num_rows)
        if fmt == "npy-dir":
            return int(np.load(source / "probs.npy", mmap_mode="r").shape[0])
        if fmt == "npz":
            with zipfile.ZipFile(source) as zf, zf.open("probs.npy") as fh:
                fmt_ = np.lib.format
                reader = fmt_.read_array_header_1_0 if fmt_.read_magic(fh) == (1, 0) else fmt_.read_array_header_2_0
                shape = reader(fh)[0]
            return int(shape[0])
        size = source.stat().st_size
        with open(source, "rb") as fh:
            sample = fh.read(CSV_SAMPLE_BYTES)
        lines = max(sample.count(b"\n"), 1)
        return lines - 1 if len(sample) == size else int(size * lines / len(sample))
    except (OSError, KeyError, ValueError, IndexError, zipfile.BadZipFile):
        return 0  # unreadable metadata: the loader reports the problem when it reads the file


def should_stream(sources: Sequence[str | Path], stream: bool | None = None) -> bool:
    """Whether to audit ``sources`` chunk by chunk: ``stream`` if given, else whether they hold
    more than :data:`STREAM_AUTO_ROWS` rows in all."""
    if stream is not None:
        return bool(stream)
    total = 0
    for source in sources:
        total += count_rows(source)
        if total > STREAM_AUTO_ROWS:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Reading shards


def _shard_chunks(source, *, chunk_rows, group_cols, class_names, group_names) -> Iterator:
    """Chunks of one shard, checked to carry exactly ``group_names``."""
    for chunk in iter_prediction_chunks(source, chunk_rows=chunk_rows, group_cols=group_cols,
                                        class_names=class_names):
        if group_names is not None and sorted(chunk.groups) != sorted(group_names):
            raise AuditError(MSG_SHARD_GROUPS.format(found=sorted(chunk.groups), expected=sorted(group_names)),
                             path=source)
        yield chunk


def peek_layout(source: str | Path, *, group_cols: Sequence[str] = (),
                class_names: Sequence[str] | None = None) -> tuple[tuple[str, ...], list[str]]:
    """Class names and group column names of a shard, from its first rows."""
    first = next(iter_prediction_chunks(source, chunk_rows=1024, group_cols=group_cols,
                                        class_names=class_names))
    return first.class_names, sorted(first.groups)


def _check_calibration(calibration, class_names) -> None:
    if calibration is not None and tuple(calibration.class_names) != tuple(class_names):
        raise AuditError(MSG_CAL_CLASSES.format(found=list(calibration.class_names), expected=list(class_names)))


def audit_shards(sources: Sequence[str | Path], *, group_cols: Sequence[str] = (),
                 class_names: Sequence[str] | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 **options) -> dict:
    """The audit result of one or more predictions files read chunk by chunk in this process.

    Parameters
    ----------
    sources : sequence of path
        Predictions files (shards) in order; each is read in chunks of at most ``chunk_rows`` rows.
    group_cols : sequence of str, default ()
        Group columns by name; empty uses every group column of the first shard.
    class_names : sequence of str, optional
        Expected class names (default: those of the first shard).
    chunk_rows : int, default 1,000,000
        Rows held in memory at once; the streaming cross-fit's random split depends on it.
    **options
        Passed to :func:`audit.engine.build.build_result_streaming` (``calibration``, ``temperature``,
        ``n_bins``, ``seed``, ``n_bootstrap``, ``max_mistakes``, ``fit_cap``, ``run``, ``provenance``,
        ``target_accuracy``, ``settings``).

    Returns
    -------
    dict
        The audit result; memory is bounded by ``chunk_rows`` whatever the number of rows.
    """
    from audit.engine.build import build_result_streaming

    sources = [Path(s) for s in sources]
    if not sources:
        raise AuditError(MSG_NO_SOURCES)
    names, groups = peek_layout(sources[0], group_cols=group_cols, class_names=class_names)
    _check_calibration(options.get("calibration"), names)

    def chunks():
        for source in sources:
            yield from _shard_chunks(source, chunk_rows=chunk_rows, group_cols=group_cols,
                                     class_names=names, group_names=groups)

    return build_result_streaming(chunks, class_names=names, group_names=groups, **options)


# ---------------------------------------------------------------------------------------------
# Per-shard tasks: plain functions of picklable arguments that return picklable accumulators


def _accumulate_shard(source, first_chunk, *, names, groups, group_cols, chunk_rows, n_bins,
                      temperature, max_mistakes, seed, fit_cap, folds, hash_source):
    """One shard's AuditAccumulator; with ``folds`` also its two cross-fit fold samples, with the
    random split keyed by the global chunk number (as in a single-process stream)."""
    from audit.engine.build import AuditAccumulator, FoldSample, add_to_folds

    acc = AuditAccumulator(names, group_names=groups, n_bins=n_bins, temperature=temperature,
                           max_mistakes=max_mistakes)
    samples = (FoldSample(fit_cap), FoldSample(fit_cap)) if folds else None
    for no, chunk in enumerate(_shard_chunks(source, chunk_rows=chunk_rows, group_cols=group_cols,
                                             class_names=names, group_names=groups), start=first_chunk or 0):
        acc.update(chunk)
        if samples is not None:
            add_to_folds(samples, chunk, no, seed)
    if samples is not None:
        for s in samples:
            s.trim()
    digest = None
    if hash_source:
        from audit.hashing import sha256_file

        digest = sha256_file(source)
    return {"acc": acc, "folds": samples, "sha256": [digest]}


def _count_chunks(source, *, names, groups, group_cols, chunk_rows):
    return sum(1 for _ in _shard_chunks(source, chunk_rows=chunk_rows, group_cols=group_cols,
                                        class_names=names, group_names=groups))


def _scale_shard(source, first_chunk, t_a, t_b, *, names, groups, group_cols, chunk_rows, n_bins, seed):
    """One shard's temperature-scaled calibration sums for the cross-fit: fold A scaled by T_B,
    fold B by T_A."""
    from audit.engine.build import AuditAccumulator, cross_fit_scaled

    acc = AuditAccumulator(names, group_names=groups, n_bins=n_bins, max_mistakes=0)
    for no, chunk in enumerate(_shard_chunks(source, chunk_rows=chunk_rows, group_cols=group_cols,
                                             class_names=names, group_names=groups), start=first_chunk):
        acc.update_scaled(*cross_fit_scaled(chunk, no, seed, t_a, t_b), groups=chunk.groups)
    return acc


def _merge_parts(*parts):
    """Merge shard results in order (mistake indices count rows in shard order) into a copy: a task
    never changes its inputs, so a retried task cannot count a shard twice."""
    first = copy.deepcopy(parts[0])
    if not isinstance(first, dict):
        for p in parts[1:]:
            first.merge_scaled(p)
        return first
    for p in parts[1:]:
        first["acc"].merge(p["acc"])
        first["sha256"] = first["sha256"] + p["sha256"]
        if first["folds"] is not None:
            for mine, theirs in zip(first["folds"], p["folds"]):
                if theirs.probs is not None:
                    mine.add(theirs.keys, theirs.labels, theirs.probs)
                    mine.trim()
    return first


def _tree_reduce(delayed, items: list, split_every: int):
    """Order-preserving tree reduction of delayed items with :func:`_merge_parts`."""
    while len(items) > 1:
        items = [delayed(_merge_parts, pure=False)(*items[i:i + split_every])
                 if len(items[i:i + split_every]) > 1 else items[i]
                 for i in range(0, len(items), split_every)]
    return items[0]


# ---------------------------------------------------------------------------------------------
# Dask


def _import_dask():
    from audit.extras import require

    require("dask", "distributed", what="--dask")
    import dask
    import distributed  # noqa: F401
    return dask


def parse_dask_spec(spec: str) -> tuple[str, int | None] | tuple[str, str]:
    """``("local", N or None)`` for ``local`` / ``local:N``, else ``("address", spec)``."""
    text = str(spec).strip()
    if text == "local":
        return "local", None
    if text.startswith("local:"):
        n = text[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise AuditError(MSG_DASK_SPEC.format(spec=spec))
        return "local", int(n)
    if not text or any(c.isspace() for c in text) or ":" not in text:
        raise AuditError(MSG_DASK_SPEC.format(spec=spec))
    return "address", text


@contextlib.contextmanager
def dask_client(spec: str, *, timeout: float | None = None):
    """A ``distributed.Client`` for ``spec`` (see :func:`parse_dask_spec`), closed on exit.

    ``local:N`` starts a LocalCluster of N single-threaded worker processes (dashboard on a free port).
    """
    kind, value = parse_dask_spec(spec)
    _import_dask()
    from distributed import Client, LocalCluster

    if kind == "local":
        kwargs = {"threads_per_worker": 1} if value is None else {"n_workers": value, "threads_per_worker": 1}
        # errors come back to the client as AuditError; the workers' own logs would repeat them as tracebacks
        with LocalCluster(processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL,
                          **kwargs) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(value, timeout=CONNECT_TIMEOUT if timeout is None else timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise AuditError(MSG_DASK_CONNECT.format(address=value, reason=str(exc) or type(exc).__name__),
                         hint="start one with `dask scheduler` and `dask worker ADDRESS`, or use --dask local:2") from None
    with client:
        yield client


def audit_on_dask(sources: Sequence[str | Path], *, client=None, group_cols: Sequence[str] = (),
                  class_names: Sequence[str] | None = None, calibration=None,
                  calibration_source: str | None = None, temperature: float | None = None,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS, n_bins: int = 15, seed: int = 0,
                  n_bootstrap: int = 200, max_mistakes: int = 24, fit_cap: int | None = None,
                  split_every: int = SPLIT_EVERY, hash_sources: bool = False,
                  run: dict | None = None, provenance: dict | None = None,
                  target_accuracy: float | None = None, settings: dict | None = None) -> dict:
    """The audit result of predictions shards, one Dask task per shard, merged by a tree reduction.

    Each task reads its shard in chunks into an :class:`~audit.engine.build.AuditAccumulator` and returns
    it (pickled); reduce tasks merge them in shard order; the client finalizes. The result equals
    :func:`audit_shards` on the same files and ``chunk_rows`` (see docs/scale.md for the guarantees).

    Parameters
    ----------
    sources : sequence of path
        Shards in order; every worker must be able to read them under these paths.
    client : distributed.Client, optional
        Where to run; default: the active client, else dask's local threaded scheduler.
    group_cols, class_names, chunk_rows : as in :func:`audit_shards`.
    calibration, calibration_source, temperature, n_bins, seed, n_bootstrap, max_mistakes, fit_cap,
    run, provenance, target_accuracy, settings : as in :func:`audit.engine.build.build_result_streaming`. Without a calibration set
        or a temperature the cross-fit reads every shard three times (chunk counts, fold samples,
        scaled sums) so that its random split is that of the single-process stream.
    split_every : int, default 8
        Shard results merged per reduce task.
    hash_sources : bool, default False
        Hash each shard on its worker into ``provenance.predictions_sha256``.

    Returns
    -------
    dict
        The audit result (docs/audit-json.md), as :func:`audit.engine.build.build_result_streaming`.
    """
    dask = _import_dask()
    from audit.engine.build import STREAM_FIT_CAP, stream_cross_fit, stream_finish, stream_temperature

    sources = [Path(s) for s in sources]
    if not sources:
        raise AuditError(MSG_NO_SOURCES)
    if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
        raise AuditError(f"split_every must be an integer >= 2; got {split_every!r}")
    fit_cap = STREAM_FIT_CAP if fit_cap is None else fit_cap
    delayed = dask.delayed

    def compute(*graphs):
        if client is not None:
            return tuple(client.compute(list(graphs), sync=True))
        return dask.compute(*graphs)

    (names, groups), = compute(delayed(peek_layout, pure=False)(sources[0], group_cols=group_cols,
                                                               class_names=class_names))
    _check_calibration(calibration, names)
    temperature, fit = stream_temperature(calibration, calibration_source, temperature)
    layout = {"names": names, "groups": groups, "group_cols": tuple(group_cols), "chunk_rows": chunk_rows}
    cross_fit = temperature is None

    offsets = [None] * len(sources)
    if cross_fit:
        counts = compute(*[delayed(_count_chunks, pure=False)(s, **layout) for s in sources])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
    parts = [delayed(_accumulate_shard, pure=False)(
        s, off, n_bins=n_bins, temperature=temperature, max_mistakes=max_mistakes, seed=seed,
        fit_cap=fit_cap, folds=cross_fit, hash_source=hash_sources, **layout)
        for s, off in zip(sources, offsets)]
    (merged,) = compute(_tree_reduce(delayed, parts, split_every))
    acc = merged["acc"]
    if cross_fit:
        t_a, t_b = merged["folds"][0].fit(), merged["folds"][1].fit()
        scaled = [delayed(_scale_shard, pure=False)(s, off, t_a, t_b, n_bins=n_bins, seed=seed, **layout)
                  for s, off in zip(sources, offsets)]
        (scaled_acc,) = compute(_tree_reduce(delayed, scaled, split_every))
        acc.merge_scaled(scaled_acc)
        temperature, fit = stream_cross_fit(t_a, t_b, fit_cap=fit_cap, n=acc.n)
    provenance = dict(provenance or {})
    if hash_sources:
        provenance["predictions_sha256"] = {str(s): d for s, d in zip(sources, merged["sha256"])}
    target = {} if target_accuracy is None else {"target_accuracy": target_accuracy}
    return stream_finish(acc, class_names=names, temperature=temperature, fit=fit, n_bins=n_bins, seed=seed,
                         n_bootstrap=n_bootstrap, max_mistakes=max_mistakes, run=run, provenance=provenance,
                         settings=settings, **target)


def audit_sources(sources: Sequence[str | Path], *, dask: str | None = None, hash_sources: bool = False,
                  **options) -> dict:
    """Stream ``sources`` in this process (:func:`audit_shards`) or, with ``dask`` (a scheduler
    address or ``local[:N]``), on a Dask cluster (:func:`audit_on_dask`)."""
    if dask is None:
        return audit_shards(sources, **options)
    with dask_client(dask) as client:
        return audit_on_dask(sources, client=client, hash_sources=hash_sources, **options)
