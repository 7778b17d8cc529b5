"""Model audits on Dask (``--dask``): image decoding, inference and the robustness cells as tasks on a
LocalCluster of worker processes give the single-process audit.json (every key outside provenance); the
model is opened once per worker; a worker lost mid-run is retried with the same result; an unreachable
scheduler and an unreadable image are one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.hardening_helpers import assert_clear_error, run_main
from helpers.image_fixtures import build_models, write_image_folder, write_metadata

distributed = pytest.importorskip("distributed")

from audit.model import dask_inference  # noqa: E402
from audit.model.dask_inference import partitions  # noqa: E402

ROBUST = ["--corruptions", "fog,gaussian_noise,glass_blur", "--severities", "1,3", "--corruption-samples", "24"]
#: small batches: several partitions (4 batches each) and several batches per partition on 36 images
COMMON = ["--bootstrap", "20", "--reproducible", "--no-record", "--batch-size", "4"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from helpers.onnx_fixtures import linear_classifier

    root = tmp_path_factory.mktemp("dask-images")
    data = write_image_folder(root / "imgs", per_class=12)
    return {"root": root, "data": data, "calib": write_image_folder(root / "calib", per_class=6, seed=1, odd_sizes=False),
            "meta": write_metadata(data, root / "meta.csv"), **_keras(root / "models"),
            "onnx": linear_classifier(root / "linear.onnx", layout="NHWC", size=8)}


def _keras(folder: Path) -> dict:
    models = build_models(folder)
    return {"keras": models["sequential"], "keras_logits": models["functional-logits"]}


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes: every spec, path list and output array is pickled."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as c, distributed.Client(c) as client:
        yield client


def audit_json(out: Path) -> dict:
    return json.loads((out / "audit.json").read_text())


def assert_same_outside_provenance(single: dict, on_dask: dict) -> None:
    assert single.keys() == on_dask.keys()
    for key in single:
        if key != "provenance":
            assert on_dask[key] == single[key], key
    prov, dprov = dict(single["provenance"]), dict(on_dask["provenance"])
    assert "dask" not in prov and dprov.pop("dask")["workers"] >= 1
    assert dprov == prov  # the same hashes, decode counts and settings too


def run_both(world, tmp_path, model, address, *extra):
    args = ["run", "--model", model, "--data", world["data"], "--metadata", world["meta"], "--group-col", "site",
            *COMMON, *extra]
    assert run_main(*args, "--out", tmp_path / "single") == 0
    assert run_main(*args, "--dask", address, "--out", tmp_path / "dask") == 0
    return audit_json(tmp_path / "single"), audit_json(tmp_path / "dask")


def address(client) -> str:
    return client.scheduler.address


# -- same numbers ---------------------------------------------------------------------------------


def test_keras_on_dask_equals_one_process(world, tmp_path, cluster):
    single, on_dask = run_both(world, tmp_path, world["keras"], address(cluster), "--calibration-data",
                               world["calib"], *ROBUST)
    assert_same_outside_provenance(single, on_dask)
    assert [c["corruption"] for c in on_dask["robustness"]["cells"]] == ["fog"] * 2 + ["gaussian_noise"] * 2 + \
        ["glass_blur"] * 2
    assert {d["name"] for d in on_dask["disparity"]} == {"site", "brightness", "contrast"}
    assert on_dask["provenance"]["images"]["decoded"]["resized"] == 3  # bookkeeping gathered from the workers
    assert on_dask["provenance"]["dask"]["scheduler"].startswith("tcp://")


def test_onnx_on_local_cluster_equals_one_process(world, tmp_path):
    """``--dask local:1`` starts its own cluster for the run."""
    single, on_dask = run_both(world, tmp_path, world["onnx"], "local:1", *ROBUST)
    assert_same_outside_provenance(single, on_dask)
    assert on_dask["provenance"]["dask"] == {"scheduler": "local:1", "workers": 1, "threads": 1,
                                             "partition_batches": dask_inference.PARTITION_BATCHES}
    assert len(on_dask["robustness"]["cells"]) == 6


def test_predict_on_dask_writes_the_same_file(world, tmp_path, cluster):
    args = ["predict", "--model", world["onnx"], "--data", world["data"], "--metadata", world["meta"],
            "--batch-size", "4"]
    assert run_main(*args, "--out", tmp_path / "one.npz") == 0
    assert run_main(*args, "--dask", address(cluster), "--out", tmp_path / "two.npz") == 0
    # each worker's ONNX session runs on one intra-op thread (a task per worker thread), not on every core
    threads = [n for found in cluster.run(dask_inference.session_threads).values() for n in found]
    assert threads and set(threads) == {dask_inference.WORKER_SESSION_THREADS} == {1}
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert sorted(one.files) == sorted(two.files)
    for name in one.files:
        np.testing.assert_array_equal(one[name], two[name])


def test_partitions_are_whole_batches():
    assert partitions(37, 4, 2) == [(0, 8), (8, 16), (16, 24), (24, 32), (32, 37)]
    assert partitions(0, 4) == []
    assert partitions(10_000, 256) == [(a, min(a + 1024, 10_000)) for a in range(0, 10_000, 1024)]
    assert len(partitions(10_000, 256, workers=2)) == 10  # 40 batches: 4 a partition leaves 5 a worker
    assert len(partitions(10_000, 256, workers=8)) == 40  # one batch a partition


def test_cell_streamed_by_blocks_equals_corrupting_the_whole_subset(world):
    """run_cell corrupts the subset block by block and predicts in batches: equal to corrupt() on the whole."""
    from audit.model.images import load_image_set
    from audit.robustness.corruptions import corrupt

    image_set = load_image_set(world["data"])
    images = dask_inference.FileImages(root=str(image_set.root), paths=image_set.paths, height=8, width=8,
                                       channels=3, max_pixels=10**6)
    index = np.array([0, 3, 4, 9, 20, 35])
    seen = []
    spec = dask_inference.ModelSpec(kind="classifier", path="x", hashes="{}", n_classes=3, batch_size=4)
    key = dask_inference.cache_key(spec)
    dask_inference._MODELS[key] = dask_inference.Opened(run=lambda x: (seen.append(x.copy()), x.reshape(len(x), -1)[:, :3])[1])
    try:
        out = dask_inference.run_cell(spec, (images, index), "gaussian_noise", 2, 5, example=4)
    finally:
        dask_inference._MODELS.pop(key)
    whole = np.concatenate([b for b in images.blocks(index, 100)])
    expected = corrupt(whole, "gaussian_noise", 2, seed=5)
    assert [len(b) for b in seen] == [4, 2]  # the batches one process feeds the model
    np.testing.assert_array_equal(np.concatenate(seen), expected)
    np.testing.assert_array_equal(out["example"], expected[4])


# -- the model opened once per worker ---------------------------------------------------------------


def test_model_opened_once_per_worker(world, tmp_path, cluster, monkeypatch):
    """Many tasks (partitions of the audit and calibration images, six cells), one opening per worker; the
    robustness subset sent once (as a task the cells read) above EMBED_MAX images."""
    monkeypatch.setattr(dask_inference, "EMBED_MAX", 4)
    run_main("run", "--model", world["keras"], "--data", world["data"], "--calibration-data", world["calib"],
             *COMMON, *ROBUST, "--dask", address(cluster), "--out", tmp_path / "a")
    assert run_main("run", "--model", world["keras"], "--data", world["data"], *COMMON, *ROBUST,
                    "--dask", address(cluster), "--out", tmp_path / "b") == 0
    counts = cluster.run(dask_inference.loads)  # {worker: {"path sha": times opened in that process}}
    keras = [n for c in counts.values() for k, n in c.items() if k.startswith(str(Path(world["keras"]).resolve()))]
    tasks = len(partitions(36, 4)) * 2 + len(partitions(18, 4)) + 12
    assert tasks > 2 * len(counts) and keras
    assert keras == [1] * len(keras), counts  # never twice in one worker, whatever the number of tasks and runs
    assert all(n == 1 for c in counts.values() for n in c.values()), counts


@pytest.mark.parametrize("kind", ["keras_logits", "onnx"])
def test_model_config_applies_on_the_workers_as_in_one_process(world, tmp_path, cluster, kind):
    """The workers open the model with the client's model config: a .keras model gets the config's scale and
    mean/std (not the default x / 255), so the probabilities, the robustness cells and provenance equal the
    one-process run's; and the config does change them (the test would see it dropped). After
    test_model_opened_once_per_worker: its other models would push that test's model out of the workers'
    caches (MAX_MODELS)."""
    config = tmp_path / "norm.toml"
    config.write_text("scale = 0.00392156862745098\nmean = [0.4914, 0.4822, 0.4465]\nstd = [0.247, 0.2435, 0.2616]\n"
                      'output = "logits"\n')
    single, on_dask = run_both(world, tmp_path, world[kind], address(cluster), "--model-config", config,
                               "--corruptions", "fog", "--severities", "2", "--corruption-samples", "12")
    assert_same_outside_provenance(single, on_dask)
    assert on_dask["provenance"]["settings"]["model_input"]["scaling"].startswith("(x / 255 - mean) / std")
    args = ["predict", "--model", world[kind], "--data", world["data"], "--batch-size", "4"]
    assert run_main(*args, "--model-config", config, "--out", tmp_path / "one.npz") == 0
    assert run_main(*args, "--model-config", config, "--dask", address(cluster), "--out", tmp_path / "two.npz") == 0
    assert run_main(*args, "--out", tmp_path / "plain.npz") == 0
    # the same file without the config on the same workers: opened again, not the cached configured model
    assert run_main(*args, "--dask", address(cluster), "--out", tmp_path / "plain-dask.npz") == 0
    one, two, plain, plain_dask = (np.load(tmp_path / f"{n}.npz") for n in ("one", "two", "plain", "plain-dask"))
    np.testing.assert_array_equal(one["probs"], two["probs"])
    np.testing.assert_array_equal(plain["probs"], plain_dask["probs"])
    assert np.abs(one["probs"] - plain["probs"]).max() > 1e-3  # mean/std change the numbers


# -- a worker lost mid-run ------------------------------------------------------------------------


PRELOAD = '''
import os
from audit.model import dask_inference

# the original, once: a preload may run more than once in a worker process
_run_cell = dask_inference.__dict__.setdefault("_original_run_cell", dask_inference.run_cell)


def run_cell(*args, **kwargs):
    """The first cell of the run kills its worker process mid-task (exactly once in the cluster)."""
    try:
        fd = os.open({marker!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return _run_cell(*args, **kwargs)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(1)


dask_inference.run_cell = run_cell
'''


def test_worker_lost_mid_run_is_retried_with_the_same_result(world, tmp_path):
    marker = tmp_path / "killed"
    preload = tmp_path / "kill_once.py"
    preload.write_text(PRELOAD.format(marker=str(marker)))
    args = ["run", "--model", world["onnx"], "--data", world["data"], *COMMON, *ROBUST]
    assert run_main(*args, "--out", tmp_path / "single") == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50, preload=[str(preload)]) as c, distributed.Client(c) as client:
        pids = set(client.run(__import__("os").getpid).values())
        assert run_main(*args, "--dask", client.scheduler.address, "--out", tmp_path / "dask") == 0
        assert int(marker.read_text()) in pids  # a worker process of the cluster did die mid-task
    assert_same_outside_provenance(audit_json(tmp_path / "single"), audit_json(tmp_path / "dask"))


# -- bad input ------------------------------------------------------------------------------------


def test_unreachable_scheduler_is_one_line_and_writes_nothing(world, tmp_path, capfd, monkeypatch):
    from audit.engine import distributed as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 1.0)
    out = tmp_path / "never"
    code = run_main("run", "--model", world["onnx"], "--data", world["data"], "--dask", "tcp://127.0.0.1:1",
                    "--no-record", "--out", out)
    assert code == 2 and not out.exists()
    assert_clear_error(capfd.readouterr().err, "127.0.0.1", "cannot reach the Dask scheduler")
    code = run_main("predict", "--model", world["onnx"], "--data", world["data"], "--dask", "tcp://127.0.0.1:1",
                    "--out", tmp_path / "p.npz")
    assert code == 2 and not (tmp_path / "p.npz").exists()
    assert "cannot reach the Dask scheduler" in capfd.readouterr().err


def test_malformed_dask_spec_is_refused_before_the_model_runs(world, tmp_path, capfd):
    code = run_main("run", "--model", world["onnx"], "--data", world["data"], "--dask", "local:0", "--out",
                    tmp_path / "never")
    assert code == 2 and "--dask must be" in capfd.readouterr().err and not (tmp_path / "never").exists()


def test_unreadable_image_on_a_worker_is_named(world, tmp_path, capfd, cluster):
    import shutil

    data = shutil.copytree(world["data"], tmp_path / "imgs")
    (data / "cat" / "005.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "never"
    code = run_main("run", "--model", world["onnx"], "--data", data, "--dask", address(cluster), "--no-record",
                    "--batch-size", "4", "--out", out)
    assert code == 2 and not out.exists()
    assert_clear_error(capfd.readouterr().err, "005.png", "unreadable or truncated image")


def test_other_model_file_on_a_worker_is_refused(world, cluster):
    """A worker that reads another file under the model's path (no shared filesystem) says so."""
    from audit.errors import AuditError

    spec = dask_inference.ModelSpec(kind="classifier", path=str(world["onnx"]), hashes='{"linear.onnx": "0"}',
                                    n_classes=3, batch_size=4, size=(8, 8))
    images = dask_inference.FileImages(root=str(world["data"]), paths=("cat/000.png",), height=8, width=8,
                                       channels=3, max_pixels=10**6)
    with pytest.raises(AuditError, match="must read the same file") as info:
        cluster.submit(dask_inference.predict_files, spec, images, properties=False, pure=False).result()
    assert "linear.onnx" in str(info.value)


def test_a_python_callable_is_not_sent_to_workers(world, cluster):
    from audit.errors import AuditError
    from audit.model.image_audit import model_source

    with pytest.raises(AuditError, match="cannot be sent"):
        model_source(lambda x: np.ones((len(x), 3)) / 3, world["data"], input_size=(8, 8), client=cluster)


# -- the saved seed model on CIFAR-10 -------------------------------------------------------------


def test_saved_model_on_cifar_binary_equals_one_process(tmp_path, cluster):
    """`audit run --model DIR --data CIFAR`: the test and validation rows and the cells as tasks, each
    worker reading the binary layout and the model folder from their paths."""
    from helpers.cifar_fixtures import write_dataset

    from audit.model.data import load_cifar10
    from audit.model.train import train

    data = write_dataset(tmp_path / "cifar", per_file=40, test=60)
    model = tmp_path / "seed"
    train(load_cifar10(data), epochs=1, seed=3, out_dir=model, verbose=0)
    args = ["run", "--model", model, "--data", data, "--bootstrap", "20", "--reproducible", "--no-record",
            "--batch-size", "8", "--corruptions", "fog,contrast", "--severities", "1,2", "--corruption-samples", "30"]
    assert run_main(*args, "--out", tmp_path / "single") == 0
    assert run_main(*args, "--dask", address(cluster), "--out", tmp_path / "dask") == 0
    single, on_dask = audit_json(tmp_path / "single"), audit_json(tmp_path / "dask")
    assert_same_outside_provenance(single, on_dask)
    assert on_dask["overall"]["n"] == 60 and len(on_dask["robustness"]["cells"]) == 4
