"""ONNX models on image files: throughput against Keras and the straightforward loop, max |Δp| of the seed
export, peak RSS against N, and `audit run` time ONNX against Keras.

    .venv/bin/python bench/onnx_bench.py --model models/cifar10-seed --json bench/results/onnx.json

All in one run, on the 10,000 CIFAR-10 test images written as PNG files (bench/image_bench.py writes them
from the binary archive):

export: the seed model (a float32 one: ``audit train`` without ``--fast``; a ``--fast`` model computes in
bfloat16 under Keras) as an NCHW ONNX graph with its trained weights (tests/helpers/onnx_fixtures.py
``seed_to_onnx``, built with ``onnx.helper``: ``model.export(format="onnx")`` needs tf2onnx); max |Δp|
between the ONNX pipeline and the Keras pipeline on the 10,000 images, and whether the argmax agrees.

throughput: images/s of (a) the ONNX pipeline (``open_image_inputs(seed.onnx, folder).predict``), (b) the
Keras pipeline on the same folder, (c) the straightforward loop — Pillow opens each file, ``/ 255``, NCHW,
``InferenceSession.run`` per batch of ``--batch-size`` — in the same process, interleaved, ``--repeats``
rounds: best and median.

memory: peak RSS (``VmHWM`` of a fresh child process) of the ONNX pipeline on 5,000 and 50,000
synthetic 64x64 PNG images with a small ONNX model.

run: wall time of ``audit run`` (a subprocess, as a user runs it) with the ONNX export and with the Keras
model on the PNG folder, robustness off, no history record.

``--n N``: the first N test images only (a smoke run). ``--json PATH`` writes every run's wall seconds
(``runs_s`` under each part), the load average before each round and the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import audit  # noqa: E402,F401 - imported before tests/ joins sys.path: tests/audit would shadow it

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench")]
sys.path.append(str(REPO / "tests"))  # for helpers.onnx_fixtures

from common import DEFAULT_DATA, Bench, add_options, require_model  # noqa: E402
from image_bench import CACHE, cifar_pngs, synthetic  # noqa: E402


def export(model_dir: Path, out: Path, *, keras_export: bool = False) -> Path:
    """The seed model as ONNX: with Keras's own ``model.export(format="onnx")`` (needs tf2onnx) when asked,
    else built with ``onnx.helper`` from the trained weights."""
    from helpers.onnx_fixtures import seed_to_onnx

    from audit.model.keras_model import load_classifier

    model = load_classifier(model_dir).model
    if keras_export:
        model.predict(np.zeros((1, *model.inputs[0].shape[1:]), np.float32), verbose=0)  # export needs a call
        model.export(str(out), format="onnx", verbose=False)
        return out
    return seed_to_onnx(model, out)


def straightforward(session, folder: Path, batch_size: int):
    """Pillow opens each file, / 255, NCHW (where the model takes it), InferenceSession.run per batch: the loop a
    user writes first."""
    from PIL import Image

    files = sorted(folder.rglob("*.png"))
    name, out = session.get_inputs()[0].name, []
    nchw = session.get_inputs()[0].shape[1] == 3
    for start in range(0, len(files), batch_size):
        x = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files[start:start + batch_size]])
        x = x.astype(np.float32) / 255
        x = x.transpose(0, 3, 1, 2) if nchw else x
        out.append(session.run(None, {name: np.ascontiguousarray(x)})[0])
    return files, np.concatenate(out)


def throughput(args, onnx_file: Path, test: Path) -> dict:
    from audit.model.image_audit import open_image_inputs
    from audit.model.onnx_model import open_session

    onnx_in = open_image_inputs(onnx_file, test)
    keras_in = open_image_inputs(args.model, test)
    session = open_session(onnx_file)
    n = len(onnx_in.images)
    runs = {"onnx pipeline": [], "keras pipeline": [], "straightforward onnx loop": []}
    onnx_in.predict(batch_size=args.batch_size, progress=False)  # warm-up: file cache, sessions, graphs
    keras_in.predict(batch_size=args.batch_size, progress=False)
    for r in range(args.repeats):
        args.bench.load(f"throughput round {r + 1}", echo=False)
        t = time.perf_counter()
        p_onnx = onnx_in.predict(batch_size=args.batch_size, progress=False)
        runs["onnx pipeline"].append(time.perf_counter() - t)
        t = time.perf_counter()
        p_keras = keras_in.predict(batch_size=args.batch_size, progress=False)
        runs["keras pipeline"].append(time.perf_counter() - t)
        t = time.perf_counter()
        files, p_loop = straightforward(session, test, args.batch_size)
        runs["straightforward onnx loop"].append(time.perf_counter() - t)
    order = [onnx_in.images.paths.index(f.relative_to(test).as_posix()) for f in files]
    out = {"n_images": n, "batch_size": args.batch_size, "repeats": args.repeats,
           "max_abs_dp_onnx_vs_keras": float(np.abs(p_onnx - p_keras).max()),
           "argmax_agree": bool((p_onnx.argmax(1) == p_keras.argmax(1)).all()),
           "max_abs_dp_loop_vs_pipeline": float(np.abs(p_loop - p_onnx[order]).max())}
    for name, times in runs.items():
        out[name] = {"runs_s": times, "best_s": min(times), "median_s": float(np.median(times)),
                     "images_per_s_best": n / min(times), "images_per_s_median": n / float(np.median(times))}
        print(f"{name:>27}: best {min(times):.2f} s = {n / min(times):,.0f} images/s, median "
              f"{n / float(np.median(times)):,.0f} images/s  (runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"max |Δp| ONNX export vs Keras: {out['max_abs_dp_onnx_vs_keras']:.2e}; same argmax on every image: "
          f"{out['argmax_agree']}; straightforward loop vs pipeline: {out['max_abs_dp_loop_vs_pipeline']:.2e}")
    return out


def tiny_onnx(path: Path) -> Path:
    """A small 64x64 NCHW model (Conv stride 2, ReLU, global average pool, Gemm, Softmax)."""
    from helpers.onnx_fixtures import _save
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for s, n in (((8, 3, 3, 3), "cw"), ((8,), "cb"), ((8, 10), "fw"), ((10,), "fb"))]
    nodes = [helper.make_node("Conv", ["x", "cw", "cb"], ["c"], strides=[2, 2]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["l"]), helper.make_node("Softmax", ["l"], ["p"], axis=1)]
    return _save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 64, 64])],
                 [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 10])], inits, path)


def peak_rss_mib() -> float:
    """This process's peak RSS: ``VmHWM`` (reset by exec, unlike ``ru_maxrss``, which a child started from a
    parent holding TensorFlow would inherit as the parent's size), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(args) -> None:
    from audit.model.image_audit import image_predictions

    t = time.perf_counter()
    run = image_predictions(args.model, args.folder, batch_size=args.batch_size, progress=False)
    peak = peak_rss_mib()
    print(json.dumps({"n": run.pred.n_samples, "peak_rss_mib": peak, "seconds": time.perf_counter() - t,
                      "tensorflow_imported": "tensorflow" in sys.modules}))


def memory(args) -> dict:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    model = tiny_onnx(cache / "tiny64.onnx")
    rows = []
    for n in args.sizes:
        folder = synthetic(cache / f"synthetic64-{n}", n)
        args.bench.load(f"memory N = {n}", echo=False)
        done = subprocess.run([sys.executable, __file__, "memory-child", "--model", str(model), "--folder",
                               str(folder), "--batch-size", "256"], capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"N = {rows[-1]['n']:>6}: peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB, {rows[-1]['seconds']:.1f} s")
    ratio = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    print(f"peak RSS ratio {rows[-1]['n']} / {rows[0]['n']} images: {ratio:.2f}")
    return {"rows": rows, "ratio": ratio}


def run_times(args, onnx_file: Path, test: Path) -> dict:
    common = ("--reproducible", "--bootstrap", "200", "--corruptions", "none", "--no-record")
    times = {"onnx": [], "keras": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            args.bench.load(f"audit run round {r + 1}", echo=False)
            for kind, model in (("onnx", onnx_file), ("keras", args.model)):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "audit", "run", "--model", str(model), "--data", str(test),
                                "--out", f"{tmp}/{kind}", *common], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
                times[kind].append(time.perf_counter() - t)
        results = [json.loads(Path(f"{tmp}/{k}/audit.json").read_text()) for k in times]
    verdicts = [(r["gate"]["passed"], [rule["passed"] for rule in r["gate"]["rules"]]) for r in results]
    for kind, ts in times.items():
        print(f"audit run --model {kind}: best {min(ts):.1f} s (runs: {', '.join(f'{t:.1f}' for t in ts)})")
    print(f"ratio ONNX / Keras (best): {min(times['onnx']) / min(times['keras']):.2f}; same verdict: "
          f"{verdicts[0] == verdicts[1]}")
    return {k: {"best_s": min(v), "runs_s": v} for k, v in times.items()} | {"same_verdict": verdicts[0] == verdicts[1]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="all", choices=["all", "throughput", "memory", "run", "memory-child"])
    ap.add_argument("--data", default=os.environ.get("AUDIT_DATA", str(DEFAULT_DATA)), help="CIFAR-10 binary archive")
    ap.add_argument("--n", type=int, default=None, help="the first N test images only (default: all 10,000)")
    ap.add_argument("--cache", default=str(CACHE), help="where the PNG folders and ONNX files are written")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000])
    ap.add_argument("--folder")
    ap.add_argument("--keras-export", action="store_true",
                    help='export with model.export(format="onnx") (needs tf2onnx) instead of onnx.helper')
    add_options(ap)
    ap.add_argument("--model", default=str(REPO / "models" / "cifar10-seed"), help="a float32 seed model folder")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.what == "memory-child":
        return memory_child(args)
    args.bench = bench = Bench(f"onnx_bench {args.what}", args, argv)
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}; load average (1, 5, 15 min) before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    results = bench.data
    results.update({"cores": os.cpu_count(), "load_before": load})
    if args.what in ("all", "throughput", "run"):
        require_model(args.model, "onnx_bench.py")
        test, _ = cifar_pngs(None, args.data, args.n, Path(args.cache))
        Path(args.cache).mkdir(parents=True, exist_ok=True)
        onnx_file = export(Path(args.model), Path(args.cache) / f"{Path(args.model).name}{'-keras' * args.keras_export}.onnx",
                           keras_export=args.keras_export)
    results["export"] = "keras model.export (tf2onnx)" if args.keras_export else "onnx.helper, trained weights"
    if args.what in ("all", "throughput"):
        results["throughput"] = throughput(args, onnx_file, test)
    if args.what in ("all", "run"):
        results["audit_run"] = run_times(args, onnx_file, test)
    if args.what in ("all", "memory"):
        results["memory"] = memory(args)
    results["load_after"] = os.getloadavg()
    print(f"load average after: {results['load_after'][0]:.2f}{bench.marked()}")
    rows = []
    if "throughput" in results:
        rows += [{"part": f"throughput: {name}", "best s": round(v["best_s"], 3), "median s": round(v["median_s"], 3),
                  "images/s (median)": round(v["images_per_s_median"])}
                 for name, v in results["throughput"].items() if isinstance(v, dict)]
    if "audit_run" in results:
        rows += [{"part": f"audit run --model {kind}", "best s": round(v["best_s"], 2)}
                 for kind, v in results["audit_run"].items() if isinstance(v, dict)]
    if "memory" in results:
        rows += [{"part": f"memory: N = {r['n']}", "peak RSS MiB": round(r["peak_rss_mib"], 1)}
                 for r in results["memory"]["rows"]]
    bench.table(rows)
    if "throughput" in results:
        t = results["throughput"]
        bench.headline("ONNX pipeline / Keras pipeline images per second (median)",
                       t["onnx pipeline"]["images_per_s_median"] / t["keras pipeline"]["images_per_s_median"])
    bench.finish()


if __name__ == "__main__":
    main()
