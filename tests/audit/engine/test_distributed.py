import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from audit.engine import distributed
from audit.engine.distributed import (
    MSG_DASK_SPEC,
    audit_on_dask,
    audit_shards,
    count_rows,
    parse_dask_spec,
    should_stream,
)
from audit.engine.build import build_result
from audit.errors import AuditError
from audit.predictions import make_predictions
from audit.sources import save_npz, save_table

NAMES = ["c0", "c1", "c2", "c3"]
#: Result sections built from merged counts and sums, equal to the in-memory result.
MERGEABLE = ("class_names", "overall", "per_class", "confusion_matrix", "confusion_matrix_normalized",
             "top_confusions", "disparity", "mistakes")
CALIBRATION = ("ece", "ece_ci", "mce", "classwise_ece", "brier", "nll", "bins", "temperature")


def assert_close(a, b, rel=1e-12, where="result"):
    """Nested JSON values equal: integers, strings and structure exactly, floats to ``rel``."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_close(a[k], b[k], rel, f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, rel, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=rel, abs=1e-15), where
    else:
        assert a == b, where


def exact_part(result, key):
    """A section with the ranking metrics left out: those stream from histograms and equal the
    in-memory values within their stated bounds (checked in test_ranking_and_selective_within_bounds)."""
    def strip(row):
        return {k: v for k, v in row.items() if not k.startswith(("roc_auc", "average_precision"))}

    if key == "overall":
        return strip(result[key])
    if key == "per_class":
        return [strip(r) for r in result[key]]
    return result[key]


def make_pred(n, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(len(NAMES), 0.5), n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, len(NAMES), n))
    return make_predictions(labels, probs, NAMES, sample_ids=[f"s{seed}-{i}" for i in range(n)],
                            groups={"site": rng.choice(["a", "b", "c"], n)})


def part(pred, rows):
    return make_predictions(pred.labels[rows], pred.probs[rows], pred.class_names,
                            sample_ids=pred.sample_ids[rows], groups={"site": pred.groups["site"][rows]})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """1,000 predictions as one Parquet file, as 4 Parquet shards of unequal size, and a calibration set."""
    folder = tmp_path_factory.mktemp("shards")
    pred = make_pred(1000, seed=1)
    whole = save_table(folder / "whole.parquet", pred)
    (folder / "shards").mkdir()
    cuts = [0, 130, 470, 700, 1000]
    shards = [save_table(folder / "shards" / f"part-{i}.parquet", part(pred, slice(a, b)))
              for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    return {"pred": pred, "whole": whole, "shards": shards, "cal": make_pred(300, seed=2), "dir": folder}


# -- one process --------------------------------------------------------------------------------


def test_shards_merged_equal_single_file_and_in_memory(data):
    opts = {"calibration": data["cal"], "calibration_source": "cal", "n_bootstrap": 30, "group_cols": ["site"]}
    merged = audit_shards(data["shards"], chunk_rows=128, **opts)
    single = audit_shards([data["whole"]], chunk_rows=1000, **opts)
    memory = build_result(data["pred"], calibration=data["cal"], calibration_source="cal", n_bootstrap=30,
                          images=False)
    for key in MERGEABLE:
        assert_close(merged[key], single[key], where=key)
        assert_close(exact_part(merged, key), exact_part(memory, key), rel=1e-9, where=key)
    for key in CALIBRATION:
        assert_close(merged["calibration"][key], memory["calibration"][key], rel=1e-9, where=key)
        if key != "temperature":
            assert_close(merged["calibration"]["after_scaling"][key],
                         memory["calibration"]["after_scaling"][key], rel=1e-9, where=key)
    assert merged["overall"]["n"] == 1000 and merged["provenance"]["settings"]["streaming"] is True
    # the one approximate number: adaptive ECE from a fine histogram sketch, not the sorted array
    assert merged["calibration"]["adaptive_ece"] == pytest.approx(memory["calibration"]["adaptive_ece"], abs=5e-3)
    assert "histogram" in merged["conventions"]["adaptive_ece"]


def test_ranking_and_selective_within_bounds(data):
    """Streamed ranking and selective values lie within the bounds they state of the exact ones."""
    opts = {"calibration": data["cal"], "calibration_source": "cal", "n_bootstrap": 0, "group_cols": ["site"]}
    merged = audit_shards(data["shards"], chunk_rows=128, **opts)
    memory = build_result(data["pred"], calibration=data["cal"], calibration_source="cal", n_bootstrap=0,
                          images=False)
    for s, m in zip(merged["per_class"], memory["per_class"]):
        for key in ("roc_auc", "average_precision"):
            assert m[f"{key}_bound"] == 0.0
            assert abs(s[key] - m[key]) <= s[f"{key}_bound"] + 1e-12, key
    for when in (None, "after_scaling"):
        ss = merged["selective"] if when is None else merged["selective"][when]
        ms = memory["selective"] if when is None else memory["selective"][when]
        assert abs(ss["aurc"] - ms["aurc"]) <= ss["aurc_bound"] + 1e-12
        assert ss["aurc_optimal"] == pytest.approx(ms["aurc_optimal"], rel=1e-12)
        assert ss["coverage"] <= ms["coverage"] + 1e-12 <= ss["coverage_upper"] + 2e-12
        assert ss["selective_accuracy"] >= ss["target_accuracy"] - 1e-12
        assert [g["group"] for g in ss["by_group"][0]["groups"]] == ["a", "b", "c"]
        assert sum(g["n"] for g in ss["by_group"][0]["groups"]) == 1000


def test_cross_fit_over_shards_reads_every_shard_again(data):
    r = audit_shards(data["shards"], chunk_rows=200, n_bootstrap=0)
    fit = r["calibration"]["temperature_fit"]
    assert fit["source"] == "cross-fit" and fit["n"] == 1000 and len(fit["fold_temperatures"]) == 2
    assert r["calibration"]["after_scaling"]["bins"]


def test_shard_with_other_group_columns_is_named(data, tmp_path):
    pred = data["pred"]
    other = make_predictions(pred.labels[:50], pred.probs[:50], NAMES, groups={"region": ["x"] * 50})
    bad = save_table(tmp_path / "z-other.parquet", other)
    with pytest.raises(AuditError, match="group columns") as info:
        audit_shards([data["shards"][0], bad], temperature=1.0, n_bootstrap=0)
    assert str(info.value).startswith(str(bad))


def test_calibration_set_of_other_classes_is_refused(data):
    cal = make_predictions([0, 1], [[0.9, 0.1], [0.2, 0.8]], ["x", "y"])
    with pytest.raises(AuditError, match="calibration set classes"):
        audit_shards(data["shards"], calibration=cal)


# -- when to stream -----------------------------------------------------------------------------


def test_count_rows_reads_metadata_of_every_format(data, tmp_path):
    small = part(data["pred"], slice(0, 37))
    assert count_rows(data["whole"]) == 1000
    assert count_rows(save_npz(tmp_path / "p.npz", small)) == 37
    assert count_rows(save_table(tmp_path / "p.csv", small)) == 37
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "probs.npy", small.probs)
    np.save(folder / "labels.npy", small.labels)
    assert count_rows(folder) == 37


def test_should_stream_above_the_row_threshold(data, monkeypatch):
    assert should_stream(data["shards"]) is False
    assert should_stream(data["shards"], True) is True and should_stream([data["whole"]], False) is False
    monkeypatch.setattr(distributed, "STREAM_AUTO_ROWS", 999)
    assert should_stream(data["shards"]) is True


# -- Dask ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed_ = pytest.importorskip("distributed")
    with distributed_.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                   dashboard_address=None) as cluster, distributed_.Client(cluster) as c:
        yield c


def test_dask_two_workers_equal_single_process_with_cross_fit(data, client):
    single = audit_shards(data["shards"], chunk_rows=100, n_bootstrap=40)
    on_dask = audit_on_dask(data["shards"], client=client, chunk_rows=100, n_bootstrap=40, split_every=2,
                            hash_sources=True)
    assert on_dask["calibration"]["temperature_fit"] == single["calibration"]["temperature_fit"]
    hashes = on_dask["provenance"].pop("predictions_sha256")
    assert list(hashes) == [str(s) for s in data["shards"]] and all(len(h) == 64 for h in hashes.values())
    single["provenance"].pop("predictions_sha256")
    assert_close(on_dask, single)


def test_dask_default_scheduler_and_calibration_set(data):
    opts = {"calibration": data["cal"], "calibration_source": "cal", "n_bootstrap": 0, "chunk_rows": 300}
    assert_close(audit_on_dask(data["shards"], **opts), audit_shards(data["shards"], **opts))


def test_dask_worker_error_reaches_the_caller(data, client, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(AuditError, match="broken.parquet"):
        audit_on_dask([data["shards"][0], bad], client=client, temperature=1.0, n_bootstrap=0)


def test_dask_worker_processes_pickle_the_accumulators(data):
    """local:2 = a LocalCluster of 2 worker processes: every accumulator crosses a process boundary."""
    opts = {"temperature": 1.3, "n_bootstrap": 20, "chunk_rows": 256, "group_cols": ["site"]}
    with distributed.dask_client("local:2") as c:
        assert len(c.scheduler_info()["workers"]) == 2
        on_dask = audit_on_dask(data["shards"], client=c, **opts)
    assert_close(on_dask, audit_shards(data["shards"], **opts))


@pytest.mark.parametrize("spec, expected", [
    ("local", ("local", None)), ("local:2", ("local", 2)), ("tcp://10.0.0.5:8786", ("address", "tcp://10.0.0.5:8786")),
    ("sched:8786", ("address", "sched:8786")),
])
def test_parse_dask_spec(spec, expected):
    assert parse_dask_spec(spec) == expected


@pytest.mark.parametrize("spec", ["local:0", "local:two", "", "scheduler", "a b:1"])
def test_parse_dask_spec_refuses(spec):
    with pytest.raises(AuditError) as info:
        parse_dask_spec(spec)
    assert str(info.value) == MSG_DASK_SPEC.format(spec=spec)


def test_dask_is_imported_only_for_dask():
    code = ("import sys, audit.engine.distributed, audit.commands.run; "
            "assert 'dask' not in sys.modules and 'distributed' not in sys.modules, 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- CLI ----------------------------------------------------------------------------------------


def cli(*args):
    from audit.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_stream_equals_in_memory_for_the_mergeable_keys(data, tmp_path):
    pattern = str(data["dir"] / "shards" / "*.parquet")
    common = ["run", "--predictions", pattern, "--reproducible", "--bootstrap", "0", "--group-col", "site"]
    cal = save_table(tmp_path / "cal.parquet", data["cal"])
    common += ["--calibration-set", str(cal)]
    streamed = cli(*common, "--stream", "--chunk-rows", "128", "--out", str(tmp_path / "s"))
    memory = cli(*common, "--out", str(tmp_path / "m"))
    assert streamed.exit_code == 0 and memory.exit_code == 0, streamed.output + memory.output
    s = json.loads((tmp_path / "s" / "audit.json").read_text())
    m = json.loads((tmp_path / "m" / "audit.json").read_text())
    assert s["provenance"]["settings"]["streaming"] is True and s["provenance"]["settings"]["chunk_rows"] == 128
    assert "streaming" not in m["provenance"]["settings"]
    assert s["provenance"]["predictions_sha256"] == m["provenance"]["predictions_sha256"]
    for key in MERGEABLE:
        assert_close(exact_part(s, key), exact_part(m, key), rel=1e-9, where=key)


@pytest.mark.parametrize("args, fragment", [
    (["--dask", "local:0"], "--dask must be"),
    (["--dask", "local:2", "--no-stream"], "cannot be combined with --no-stream"),
    (["--stream", "--baseline", "old.parquet"], "predictions baseline"),
])
def test_cli_refuses_bad_stream_options_with_exit_2(data, args, fragment, capsys):
    from audit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["run", "--predictions", str(data["shards"][0]), *args, "--out", str(data["dir"] / "never")])
    assert info.value.code == 2 and fragment in capsys.readouterr().err
