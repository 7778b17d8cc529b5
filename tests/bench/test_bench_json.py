"""``--json PATH`` of every bench script: the keys each writes, from a small run (tiny sizes, one repeat).
No timing is asserted (the machine is shared; bench/run_all.py measures on an idle one)."""

from __future__ import annotations

import pytest

#: The keys every bench script writes (bench/common.py).
COMMON = {"benchmark", "command", "date", "finished", "machine", "max_load", "force", "forced", "under_load",
          "load_start", "load_end", "loads", "table"}


def check_common(record: dict, name: str) -> None:
    assert COMMON <= set(record), COMMON - set(record)
    assert record["benchmark"] == name
    assert record["command"].startswith(".venv/bin/python bench/")
    assert record["date"].endswith("Z") and record["date"][:2] == "20"
    assert record["machine"]["cores"] >= 1 and record["machine"]["cpu"]
    assert record["force"] is True and isinstance(record["forced"], bool)
    assert record["loads"] and all({"before", "load"} <= set(x) for x in record["loads"])
    assert len(record["load_start"]) == 3
    assert isinstance(record["table"], list) and record["table"]


def seconds_list(values, n: int) -> None:
    assert isinstance(values, list) and len(values) == n and all(isinstance(v, float) and v >= 0 for v in values)


def test_corruption_speed(run_bench, bench_data):
    r = run_bench("corruption_speed.py", "--data", bench_data, "--n", 4)
    check_common(r, "corruption_speed")
    assert len(r["corruptions"]) == 15
    for row in r["corruptions"]:
        assert set(row) == {"name", "batched_s", "per_image_s", "ratio", "batched_cpu_s", "per_image_cpu_s"}
    assert r["ratio"] == pytest.approx(sum(x["per_image_s"] for x in r["corruptions"])
                                       / sum(x["batched_s"] for x in r["corruptions"]))
    assert r["cpu_ratio"] > 0 and r["n_images"] == 4
    assert [x["before"] for x in r["loads"]] == [x["name"] for x in r["corruptions"]]


def test_confidence_bench(run_bench):
    r = run_bench("confidence_bench.py", "--n", 2000, "--repeat", 1)
    check_common(r, "confidence_bench")
    assert len(r["runs_s"]) == 4 and all(len(v) == 1 for v in r["runs_s"].values())
    assert r["ratio"] > 0 and r["max_abs_difference_auc"] < 1e-12
    assert r["headline"]["value"] == r["ratio"]


def test_metrics_bench(run_bench):
    r = run_bench("metrics_bench.py", "--n", 2000, "--repeat", 1)
    check_common(r, "metrics_bench")
    assert len(r["runs_s"]) == 4 and all(len(v) == 1 for v in r["runs_s"].values())
    assert set(r["best_s"]) == set(r["runs_s"]) == set(r["ratio"])


def test_any_k_bench(run_bench):
    r = run_bench("any_k_bench.py", "--ks", 10, "--n", 300, "--repeat", 1)
    check_common(r, "any_k_bench")
    (row,) = r["by_k"]
    assert row["k"] == 10
    seconds_list(row["audit_s"], 1)
    seconds_list(row["straightforward_s"], 1)


def test_run_bench(run_bench):
    r = run_bench("run_bench.py", "--n", 2000, "--small", 300, "--repeat", 1, "--small-repeat", 1)
    check_common(r, "run_bench")
    for key in ("audit_s", "straightforward_s", "small_audit_s", "import_audit_s", "bare_python_s"):
        seconds_list(r[key], 1)
    assert r["ratio_pairs"] and r["agreement"] == "the two processes report the same numbers"


def test_history_bench(run_bench):
    r = run_bench("history_bench.py", "--runs", 12, "--record", 2, "--backends", "sqlite", "--writers", 2,
                  "--writer-runs", 2, "--cli-repeats", 1)
    check_common(r, "history_bench")
    sqlite = r["backends"]["sqlite"]
    seconds_list(sqlite["record_s"], 2)
    assert sqlite["parallel"]["rows"] == 4 and sqlite["parallel"]["errors"] == 0
    seconds_list(r["cli"]["runs_s"]["record"], 1)
    seconds_list(r["cli"]["runs_s"]["no_record"], 1)


@pytest.mark.slow
def test_image_bench_throughput(run_bench, bench_model, bench_data, tmp_path):
    r = run_bench("image_bench.py", "throughput", "--model", bench_model, "--data", bench_data, "--n", 24,
                  "--cache", tmp_path / "images", "--repeats", 1, "--batch-size", 8)
    check_common(r, "image_bench throughput")
    for key in ("loop_s", "pipeline_s", "inference_only_s"):
        seconds_list(r[key], 1)
    assert r["n_images"] == 24 and r["batch_size"] == 8
    assert r["max_abs_difference_loop"] < 1e-5 and r["max_abs_difference_inference_only"] < 1e-5
    for key in ("pipeline_over_inference_only", "loop_over_pipeline"):
        assert {"median", "best", "pairs"} <= set(r[key]) and len(r[key]["pairs"]) == 1
    assert r["loads"][0]["before"] == "triple 1"


@pytest.mark.slow
def test_image_bench_memory(run_bench, tmp_path):
    r = run_bench("image_bench.py", "memory", "--sizes", 20, "--cache", tmp_path / "images")
    check_common(r, "image_bench memory")
    assert [row["n"] for row in r["rows"]] == [20] and r["peak_rss_ratio"] == 1


@pytest.mark.slow
def test_onnx_bench_throughput(run_bench, bench_model, bench_data, tmp_path):
    r = run_bench("onnx_bench.py", "throughput", "--model", bench_model, "--data", bench_data, "--n", 24,
                  "--cache", tmp_path / "images", "--repeats", 1, "--batch-size", 8)
    check_common(r, "onnx_bench throughput")
    for name in ("onnx pipeline", "keras pipeline", "straightforward onnx loop"):
        seconds_list(r["throughput"][name]["runs_s"], 1)


@pytest.mark.slow
def test_e2e_bench(run_bench, bench_model, bench_data):
    r = run_bench("e2e_bench.py", "--model", bench_model, "--data", bench_data)
    check_common(r, "e2e_bench")
    assert "inference (test + validation)" in r["stages_s"]
    seconds_list(r["audit_run_model_s"], 1)
    seconds_list(r["audit_run_predictions_s"], 1)


@pytest.mark.slow
def test_robustness_audit(run_bench, bench_model, bench_data):
    r = run_bench("robustness_audit.py", "--model", bench_model, "--data", bench_data, "--samples", 20)
    check_common(r, "robustness_audit")
    assert r["cells"] == 75 and r["added_s"] > 0 and r["corruption_s"] > 0


@pytest.mark.slow
def test_seed_keras3(run_bench, bench_data):
    r = run_bench("seed_keras3.py", "--data", bench_data, "--epochs", 1, "--limit", 64)
    check_common(r, "seed_keras3")
    seconds_list(r["seconds_per_epoch"], 1)
    assert 0 <= r["test_accuracy"] <= 1


@pytest.mark.slow
def test_train_steps(run_bench):
    r = run_bench("train_steps.py", "--steps", 2, "--epochs", 2, "--configs", "fast")
    check_common(r, "train_steps")
    (row,) = r["configs"]
    assert row["config"] == "fast" and len(row["ms_per_step"]) == 1


@pytest.mark.slow
def test_train_vs_seed(run_bench, bench_data, tmp_path):
    r = run_bench("train_vs_seed.py", "--data", bench_data, "--epochs", 1, "--limit", 64, "--results", tmp_path,
                  timeout=600)
    check_common(r, "train_vs_seed")
    assert set(r["results"]) == {"seed", "default", "fast"}
    assert [x["before"] for x in r["loads"]] == ["seed", "default", "fast"]


def test_data_quality_bench(run_bench):
    r = run_bench("data_quality_bench.py", "--rows", 2000)
    check_common(r, "data_quality_bench")
    row = r["rows"]["2000"]
    assert row["label_quality_s"] >= 0 and row["slices_s"] >= 0 and row["features"] == 8
    assert r["import_s"] >= 0 and [x["before"] for x in r["loads"]] == ["2,000 rows"]


@pytest.mark.slow
def test_explain_bench(run_bench, bench_model, bench_data):
    r = run_bench("explain_bench.py", "--model", bench_model, "--data", bench_data, "--n-test", 40, "--repeat", 1)
    check_common(r, "explain_bench")
    assert set(r["methods"]) == {"grad-cam", "occlusion"} and r["n_images"] == 24
    for f in r["methods"].values():
        assert f["seconds_cold"] > 0 and f["seconds_warm_best"] > 0 and f["report_bytes_added"] > 0
    assert len(r["loads"]) == 2


@pytest.mark.slow
def test_dask_bench(run_bench, bench_model, bench_data, tmp_path):
    r = run_bench("dask_bench.py", "--model", bench_model, "--data", bench_data, "--n", 40, "--workdir", tmp_path,
                  "--modes", "single,local:1", "--corruptions", "fog", "--severities", "1",
                  "--corruption-samples", 20, "--batch-size", 16)
    check_common(r, "dask_bench")
    assert [x["mode"] for x in r["results"]] == ["single", "local:1"]
    assert r["results"][1]["same_numbers"] is True and r["results"][0]["inference_s"] > 0
    assert [x["before"] for x in r["loads"]] == ["single", "local:1"]
