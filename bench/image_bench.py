"""Any Keras model on image files: decode + inference throughput, peak memory against N, and `audit run` time.

    .venv/bin/python bench/image_bench.py throughput --model models/cifar10-seed
    .venv/bin/python bench/image_bench.py memory
    .venv/bin/python bench/image_bench.py run --model models/cifar10-seed

throughput: the 10,000 CIFAR-10 test images written as PNG files (one folder per class, from the binary
archive via audit.model.data), predicted by the seed model (a) with the straightforward loop — open each
file with Pillow, convert to RGB, stack, / 255, ``model.predict`` — and (b) with the streaming pipeline
(``open_image_inputs(...).predict``), in the same process, alternating, ``--repeats`` pairs: best and
median wall times, and the ratio pair by pair (each loop run against the pipeline run right after it,
which cancels slow drifts of a shared machine). Both give the same probabilities (checked). A third
measurement, interleaved with the other two (each round runs loop, pipeline, inference only): (c) inference
only — the pipeline's own predictor (the same model's compiled uint8 -> probabilities graph) on the same
images already decoded into memory by the pipeline, same batch size: the floor the pipeline stands on.
Prints pipeline / inference-only and loop / pipeline, of the medians and pair by pair. ``--n N``: the first N
test images only (a smoke run). ``--json PATH`` writes ``loop_s``, ``pipeline_s`` and ``inference_only_s``
(wall seconds per run) and the rest (bench/common.py lists the keys every script writes).

memory: peak RSS (``ru_maxrss`` of a fresh child process) of the pipeline on 5,000 and on 50,000 synthetic
64x64 PNG images with a small 64x64 model; the ratio must stay near 1 (pixels never accumulate; only the
per-image bookkeeping — path, label, probabilities, 32-byte hash — grows with N).

run: wall time of ``audit run`` (a subprocess, as a user runs it) on the PNG folders (test images, and the
model's validation split written as PNG for --calibration-data) against the binary-layout path, same seed
model, robustness off in both (it is on by default for the binary layout only); the two audits' numbers
are compared.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from common import DEFAULT_DATA as DATA, Bench, add_options, require_model  # noqa: E402
CACHE = REPO / "bench" / "results" / "images"


def write_pngs(images: np.ndarray, labels: np.ndarray, class_names, folder: Path, ids) -> Path:
    """One PNG per image under ``folder/<class>/<id>.png``; skipped when the folder is complete."""
    from PIL import Image

    done = folder / ".complete"
    if done.exists():
        return folder
    for name in class_names:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for img, label, i in zip(images, labels, ids):
        Image.fromarray(img).save(folder / class_names[label] / f"{i}.png")
    done.write_text("")
    return folder


def cifar_pngs(model_dir: Path | None, data_path=DATA, n: int | None = None, cache: Path = CACHE):
    """The CIFAR-10 test images (the first ``n``, default all) and the model's validation split (None when
    ``model_dir`` is None), as PNG folders under ``cache``."""
    from audit.model.artifacts import load_validation_indices
    from audit.model.data import load_cifar10

    data_path = Path(data_path)
    data = load_cifar10(data_path)
    tag = "" if data_path.name == DATA.name else f"-{data_path.name.split('.')[0]}"
    count = len(data.y_test) if n is None else min(n, len(data.y_test))
    size = "" if count == len(data.y_test) else f"-{count}"
    test = write_pngs(data.x_test[:count], data.y_test[:count], data.class_names,
                      Path(cache) / f"cifar10-test-png{tag}{size}", [f"{i:05d}" for i in range(count)])
    if model_dir is None:
        return test, None
    idx = load_validation_indices(model_dir)
    val = write_pngs(data.x_train[idx], data.y_train[idx], data.class_names,
                     Path(cache) / f"cifar10-val-png{tag}-{model_dir.name}", [f"{i:05d}" for i in idx])
    return test, val


def straightforward(model, folder: Path):
    """Open each file with Pillow, stack, / 255, model.predict: the loop a user writes first."""
    from PIL import Image

    files = sorted(p for p in folder.rglob("*.png"))
    x = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).astype(np.float32) / 255
    return files, model.predict(x, verbose=0)


def inference_only(inputs, batches) -> np.ndarray:
    """The pipeline's own inference (the same model's compiled uint8 -> probabilities graph, ``inputs.predictor``)
    on batches already decoded into memory: the floor the pipeline stands on."""
    return np.concatenate([inputs.predictor(images, paths) for images, paths in batches])


def ratio_summary(num: list[float], den: list[float]) -> dict:
    """Ratios of two lists of wall times: of the medians, of the bests, and pair by pair (run i against run i)."""
    pairs = [a / b for a, b in zip(num, den)]
    return {"median": float(np.median(num) / np.median(den)), "best": min(num) / min(den), "pairs": pairs,
            "pairs_median": float(np.median(pairs)), "pairs_lowest": min(pairs), "pairs_highest": max(pairs)}


def throughput(args, argv=None) -> None:
    from audit.model.image_audit import open_image_inputs

    bench = Bench("image_bench throughput", args, argv)
    model_dir = require_model(args.model, "image_bench.py")
    test, _ = cifar_pngs(None, args.data, args.n, Path(args.cache))
    inputs = open_image_inputs(model_dir, test)
    model = inputs.classifier.model
    n = len(inputs.images)
    straightforward(model, test)  # warm-up: file cache, TensorFlow graphs
    inputs.predict(batch_size=args.batch_size, progress=False)
    # the pipeline's own decoded uint8 batches, copied (a pipeline may reuse its buffers)
    decoded = [(b.images.copy(), list(b.paths)) for b in inputs.batches(batch_size=args.batch_size)]
    inference_only(inputs, decoded)
    base, pipe, floor, base_cpu, pipe_cpu, floor_cpu = [], [], [], [], [], []
    for r in range(args.repeats):
        bench.load(f"triple {r + 1}", echo=False)
        t, c = time.perf_counter(), time.process_time()
        files, want = straightforward(model, test)
        base.append(time.perf_counter() - t)
        base_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        got = inputs.predict(batch_size=args.batch_size, progress=False)
        pipe.append(time.perf_counter() - t)
        pipe_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        alone = inference_only(inputs, decoded)
        floor.append(time.perf_counter() - t)
        floor_cpu.append(time.process_time() - c)
        print(f"triple {r + 1} (load average {bench['loads'][-1]['load']:.2f}): loop {base[-1]:.2f} s, pipeline "
              f"{pipe[-1]:.2f} s, inference only {floor[-1]:.2f} s", flush=True)
    order = [inputs.images.paths.index(f.relative_to(test).as_posix()) for f in files]
    diff = float(np.abs(got[order] - want).max())
    diff_floor = float(np.abs(got - alone).max())
    loads = [x["load"] for x in bench["loads"]]
    print(f"images: {n} PNG files ({test}); cores: {os.cpu_count()} (shared with other users)")
    print(f"straightforward loop (Pillow, stack, model.predict): best {min(base):.2f} s = {n / min(base):,.0f} images/s"
          f"  (runs: {', '.join(f'{t:.2f}' for t in base)})")
    print(f"streaming pipeline (batch {args.batch_size}, {inputs_workers()} decode threads): best {min(pipe):.2f} s"
          f" = {n / min(pipe):,.0f} images/s  (runs: {', '.join(f'{t:.2f}' for t in pipe)})")
    print(f"inference only (same model and graph, same decoded arrays, batch {args.batch_size}): best "
          f"{min(floor):.2f} s = {n / min(floor):,.0f} images/s  (runs: {', '.join(f'{t:.2f}' for t in floor)})")
    pairs = sorted(b / p for b, p in zip(base, pipe))
    print(f"ratio (best wall times): {min(base) / min(pipe):.2f}x; median wall: "
          f"{np.median(base) / np.median(pipe):.2f}x; run by run (each loop run against the pipeline run after "
          f"it): median {np.median(pairs):.2f}x, lowest {pairs[0]:.2f}x, highest {pairs[-1]:.2f}x")
    vs_floor, vs_loop = ratio_summary(pipe, floor), ratio_summary(base, pipe)
    print(f"pipeline / inference only: median {vs_floor['median']:.2f} (best {vs_floor['best']:.2f}); pair by pair "
          + ", ".join(f"{x:.2f}" for x in vs_floor["pairs"]))
    print(f"loop / pipeline: median {vs_loop['median']:.2f}x (best {vs_loop['best']:.2f}x); pair by pair "
          + ", ".join(f"{x:.2f}x" for x in vs_loop["pairs"]))
    print(f"CPU seconds (all threads; less sensitive to other users): {np.median(base_cpu):.2f} against "
          f"{np.median(pipe_cpu):.2f} = {np.median(base_cpu) / np.median(pipe_cpu):.2f}x (inference only "
          f"{np.median(floor_cpu):.2f})   max |probability difference|: {diff:.2e} (loop), {diff_floor:.2e} "
          f"(inference only)   load average before each triple: {min(loads):.2f}–{max(loads):.2f}{bench.marked()}")
    bench.data.update(
        n_images=n, batch_size=args.batch_size, repeats=args.repeats, decode_threads=inputs_workers(),
        loop_s=base, pipeline_s=pipe, inference_only_s=floor,
        loop_cpu_s=base_cpu, pipeline_cpu_s=pipe_cpu, inference_only_cpu_s=floor_cpu,
        pipeline_over_inference_only=vs_floor, loop_over_pipeline=vs_loop,
        max_abs_difference_loop=diff, max_abs_difference_inference_only=diff_floor,
        inference_only_means="the pipeline's predictor (same model, same compiled uint8 graph) on the pipeline's "
                             "own decoded uint8 batches, held in memory, same batch size")
    bench.table([{"images": n, "batch": args.batch_size, "triples": args.repeats,
                  "loop median s": round(float(np.median(base)), 3),
                  "pipeline median s": round(float(np.median(pipe)), 3),
                  "inference-only median s": round(float(np.median(floor)), 3),
                  "pipeline / inference-only (median)": round(vs_floor["median"], 3),
                  "pipeline / inference-only pairs": f"{vs_floor['pairs_lowest']:.2f}–{vs_floor['pairs_highest']:.2f}",
                  "loop / pipeline (median)": round(vs_loop["median"], 3),
                  "loop / pipeline pairs": f"{vs_loop['pairs_lowest']:.2f}–{vs_loop['pairs_highest']:.2f}"}])
    bench.headline("pipeline / inference-only, median wall", vs_floor["median"])
    bench.finish()


def inputs_workers() -> int:
    return min(8, os.cpu_count() or 1)


def synthetic(folder: Path, n: int, size: int = 64) -> Path:
    from PIL import Image

    done = folder / ".complete"
    if done.exists():
        return folder
    rng = np.random.default_rng(0)
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 256, size=(64, size, size, 3), dtype=np.uint8)
    for i in range(n):
        Image.fromarray(base[i % 64] ^ np.uint8(i % 251)).save(folder / f"class{i % 10}" / f"{i:06d}.png",
                                                                compress_level=1)
    done.write_text("")
    return folder


def memory_child(args) -> None:
    """In a fresh process: run the pipeline over the folder; print peak RSS in MiB as JSON."""
    from audit.model.image_audit import image_predictions

    t = time.perf_counter()
    run = image_predictions(args.model, args.folder, batch_size=args.batch_size, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": run.pred.n_samples, "peak_rss_mib": peak, "seconds": time.perf_counter() - t}))


def memory(args, argv=None) -> None:
    from audit.model.quiet import import_keras

    bench = Bench("image_bench memory", args, argv)
    cache = Path(args.cache)

    keras = import_keras()
    model_file = cache / "tiny64.keras"
    if not model_file.exists():
        keras.utils.set_random_seed(0)
        L = keras.layers
        net = keras.Sequential([keras.Input((64, 64, 3)), L.Conv2D(8, 3, strides=2, activation="relu"),
                                L.GlobalAveragePooling2D(), L.Dense(10, activation="softmax")])
        cache.mkdir(parents=True, exist_ok=True)
        net.save(model_file)
    rows = []
    for n in args.sizes:
        folder = synthetic(cache / f"synthetic64-{n}", n)
        bench.load(f"N = {n}", echo=False)
        out = subprocess.run([sys.executable, __file__, "memory-child", "--model", str(model_file),
                              "--folder", str(folder), "--batch-size", str(args.batch_size)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"N = {rows[-1]['n']:>6}: peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB, {rows[-1]['seconds']:.1f} s")
    ratio = rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']
    print(f"peak RSS ratio {rows[-1]['n']} / {rows[0]['n']} images: {ratio:.2f}{bench.marked()}")
    bench.data.update(rows=rows, peak_rss_ratio=ratio, batch_size=args.batch_size)
    bench.table([{"images": r["n"], "peak RSS MiB": round(r["peak_rss_mib"], 1), "seconds": round(r["seconds"], 2)}
                 for r in rows])
    bench.headline(f"peak RSS ratio {rows[-1]['n']} / {rows[0]['n']} images", ratio)
    bench.finish()


def run_cli(*args) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "audit", "run", *map(str, args)], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_times(args, argv=None) -> None:
    bench = Bench("image_bench run", args, argv)
    model_dir = require_model(args.model, "image_bench.py")
    test, val = cifar_pngs(model_dir, args.data, None, Path(args.cache))
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # like with like: the robustness audit is on by default for the binary layout only (opt-in on
        # image files), so it is off for both; no history record from a benchmark
        common = ("--reproducible", "--bootstrap", "200", "--corruptions", "none", "--no-record")
        png_t, bin_t = [], []
        for r in range(args.repeats):
            bench.load(f"pair {r + 1}", echo=False)
            bin_t.append(run_cli("--model", model_dir, "--data", data, "--out", tmp / "bin", *common))
            png_t.append(run_cli("--model", model_dir, "--data", test, "--calibration-data", val,
                                 "--out", tmp / "png", *common))
        a, b = (json.loads((tmp / x / "audit.json").read_text()) for x in ("bin", "png"))
    same = {k: a[k] == b[k] for k in ("overall", "per_class", "confusion_matrix", "disparity")}
    same["ece"] = a["calibration"]["ece"] == b["calibration"]["ece"]
    t_a, t_b = a["calibration"]["temperature"], b["calibration"]["temperature"]
    same["temperature"] = f"{t_a:.6f} vs {t_b:.6f} (same images, fitted in another order)"
    print(f"audit run, binary layout (tar.gz, cached extraction): best {min(bin_t):.1f} s "
          f"(runs: {', '.join(f'{t:.1f}' for t in bin_t)})")
    print(f"audit run, PNG folders (10,000 test + {b['calibration']['temperature_fit']['n']} calibration images): "
          f"best {min(png_t):.1f} s (runs: {', '.join(f'{t:.1f}' for t in png_t)})")
    print(f"ratio PNG / binary: {min(png_t) / min(bin_t):.2f}; identical numbers: {same}{bench.marked()}")
    bench.data.update(binary_s=bin_t, png_s=png_t, ratio_best=min(png_t) / min(bin_t), identical=same)
    bench.table([{"binary layout best s": round(min(bin_t), 2), "PNG folders best s": round(min(png_t), 2),
                  "PNG / binary (best)": round(min(png_t) / min(bin_t), 3)}])
    bench.headline("audit run, PNG folders / binary layout (best)", min(png_t) / min(bin_t))
    bench.finish()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("throughput", "run"):
        p = add_options(sub.add_parser(name), model=True)
        p.add_argument("--data", default=os.environ.get("AUDIT_DATA", str(DATA)), help="CIFAR-10 binary archive")
        if name == "throughput":
            p.add_argument("--n", type=int, default=None, help="the first N test images only (default: all 10,000)")
        p.add_argument("--cache", default=str(CACHE), help="where the PNG folders are written (kept between runs)")
        p.add_argument("--repeats", type=int, default=3)
        p.add_argument("--batch-size", type=int, default=512)
    p = add_options(sub.add_parser("memory"))
    p.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--cache", default=str(CACHE), help="where the synthetic images and the small model are written")
    p = sub.add_parser("memory-child")
    p.add_argument("--model")
    p.add_argument("--folder")
    p.add_argument("--batch-size", type=int, default=256)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.what == "memory-child":
        return memory_child(args)
    {"throughput": throughput, "memory": memory, "run": run_times}[args.what](args, argv)


if __name__ == "__main__":
    main()
