"""Any Keras model on image files: decode + inference throughput, peak memory against N, and `audit run` time.

    .venv/bin/python bench/image_bench.py throughput --model models/cifar10-seed
    .venv/bin/python bench/image_bench.py memory
    .venv/bin/python bench/image_bench.py run --model models/cifar10-seed

throughput: the 10,000 CIFAR-10 test images written as PNG files (one folder per class, from the binary
archive via audit.model.data), predicted by the seed model (a) with the straightforward loop — open each
file with Pillow, convert to RGB, stack, / 255, ``model.predict`` — and (b) with the streaming pipeline
(``open_image_inputs(...).predict``), in the same process, alternating, ``--repeats`` pairs: best and
median wall times, and the ratio pair by pair (each loop run against the pipeline run right after it,
which cancels slow drifts of a shared machine). Both give the same probabilities (checked).

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
DATA = REPO.parent / "shared" / "datasets" / "cifar-10-binary.tar.gz"
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


def cifar_pngs(model_dir: Path) -> tuple[Path, Path]:
    """The CIFAR-10 test images and the model's validation split, as PNG folders."""
    from audit.model.artifacts import load_validation_indices
    from audit.model.data import load_cifar10

    data = load_cifar10(DATA)
    test = write_pngs(data.x_test, data.y_test, data.class_names, CACHE / "cifar10-test-png",
                      [f"{i:05d}" for i in range(len(data.y_test))])
    idx = load_validation_indices(model_dir)
    val = write_pngs(data.x_train[idx], data.y_train[idx], data.class_names, CACHE / f"cifar10-val-png-{model_dir.name}",
                     [f"{i:05d}" for i in idx])
    return test, val


def straightforward(model, folder: Path):
    """Open each file with Pillow, stack, / 255, model.predict: the loop a user writes first."""
    from PIL import Image

    files = sorted(p for p in folder.rglob("*.png"))
    x = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).astype(np.float32) / 255
    return files, model.predict(x, verbose=0)


def throughput(args) -> None:
    from audit.model.image_audit import open_image_inputs

    model_dir = Path(args.model)
    test, _ = cifar_pngs(model_dir)
    inputs = open_image_inputs(model_dir, test)
    model = inputs.classifier.model
    n = len(inputs.images)
    straightforward(model, test)  # warm-up: file cache, TensorFlow graphs
    inputs.predict(batch_size=args.batch_size, progress=False)
    base, pipe, base_cpu, pipe_cpu = [], [], [], []
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        files, want = straightforward(model, test)
        base.append(time.perf_counter() - t)
        base_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        got = inputs.predict(batch_size=args.batch_size, progress=False)
        pipe.append(time.perf_counter() - t)
        pipe_cpu.append(time.process_time() - c)
    order = [inputs.images.paths.index(f.relative_to(test).as_posix()) for f in files]
    diff = float(np.abs(got[order] - want).max())
    print(f"images: {n} PNG files ({test}); cores: {os.cpu_count()} (shared with other users)")
    print(f"straightforward loop (Pillow, stack, model.predict): best {min(base):.2f} s = {n / min(base):,.0f} images/s"
          f"  (runs: {', '.join(f'{t:.2f}' for t in base)})")
    print(f"streaming pipeline (batch {args.batch_size}, {inputs_workers()} decode threads): best {min(pipe):.2f} s"
          f" = {n / min(pipe):,.0f} images/s  (runs: {', '.join(f'{t:.2f}' for t in pipe)})")
    pairs = sorted(b / p for b, p in zip(base, pipe))
    print(f"ratio (best wall times): {min(base) / min(pipe):.2f}x; median wall: "
          f"{np.median(base) / np.median(pipe):.2f}x; run by run (each loop run against the pipeline run after "
          f"it): median {np.median(pairs):.2f}x, lowest {pairs[0]:.2f}x, highest {pairs[-1]:.2f}x")
    print(f"CPU seconds (all threads; less sensitive to other users): {np.median(base_cpu):.2f} against "
          f"{np.median(pipe_cpu):.2f} = {np.median(base_cpu) / np.median(pipe_cpu):.2f}x   max |probability "
          f"difference|: {diff:.2e}   load average before: {load:.1f}")


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


def memory(args) -> None:
    from audit.model.quiet import import_keras

    keras = import_keras()
    model_file = CACHE / "tiny64.keras"
    if not model_file.exists():
        keras.utils.set_random_seed(0)
        L = keras.layers
        net = keras.Sequential([keras.Input((64, 64, 3)), L.Conv2D(8, 3, strides=2, activation="relu"),
                                L.GlobalAveragePooling2D(), L.Dense(10, activation="softmax")])
        CACHE.mkdir(parents=True, exist_ok=True)
        net.save(model_file)
    rows = []
    for n in args.sizes:
        folder = synthetic(CACHE / f"synthetic64-{n}", n)
        out = subprocess.run([sys.executable, __file__, "memory-child", "--model", str(model_file),
                              "--folder", str(folder), "--batch-size", str(args.batch_size)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"N = {rows[-1]['n']:>6}: peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB, {rows[-1]['seconds']:.1f} s")
    print(f"peak RSS ratio {rows[-1]['n']} / {rows[0]['n']} images: {rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']:.2f}")


def run_cli(*args) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "audit", "run", *map(str, args)], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_times(args) -> None:
    model_dir = Path(args.model)
    test, val = cifar_pngs(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # like with like: the robustness audit is on by default for the binary layout only (opt-in on
        # image files), so it is off for both; no history record from a benchmark
        common = ("--reproducible", "--bootstrap", "200", "--corruptions", "none", "--no-record")
        png_t, bin_t = [], []
        for r in range(args.repeats):
            bin_t.append(run_cli("--model", model_dir, "--data", DATA, "--out", tmp / "bin", *common))
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
    print(f"ratio PNG / binary: {min(png_t) / min(bin_t):.2f}; identical numbers: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("throughput", "run"):
        p = sub.add_parser(name)
        p.add_argument("--model", default=str(REPO / "models" / "cifar10-seed"))
        p.add_argument("--repeats", type=int, default=3)
        p.add_argument("--batch-size", type=int, default=512)
    p = sub.add_parser("memory")
    p.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000])
    p.add_argument("--batch-size", type=int, default=256)
    p = sub.add_parser("memory-child")
    p.add_argument("--model")
    p.add_argument("--folder")
    p.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()
    {"throughput": throughput, "memory": memory, "memory-child": memory_child, "run": run_times}[args.what](args)


if __name__ == "__main__":
    main()
