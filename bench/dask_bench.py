"""Model audits on Dask: inference on the CIFAR-10 test images as PNG files and the default robustness
section (15 corruptions x 5 severities x 1,000 images) of the seed model, in one process vs
``--dask local:1`` vs ``--dask local:2``.

    .venv/bin/python bench/dask_bench.py --model models/cifar10-seed --json dask-bench.json

Each mode runs in a fresh Python process (so one process's peak RSS is its own): the model on the PNG
folder (``audit.model.image_audit.image_predictions``, as ``audit run --model DIR --data PNGS``), then
the robustness section (``add_robustness``, as ``--corruptions cifar10-c``). Reported per mode: wall time
of each phase, images per second per worker, the peak RSS of the client and of each worker process
(``ru_maxrss``), the tasks' compute times (Dask's task stream), and a projection to 8 and 32 workers:
the measured task durations scheduled greedily (longest first) on W workers, plus the one-off opening
of the model in each worker (paid in parallel: each worker's first task's excess over the median task),
plus the client's own time (wall - opening - makespan on the measured workers), each phase separately. The Dask modes' audit.json
outside provenance is compared with the single process's (``same_numbers``).

The 10,000 PNGs are written once into ``--workdir`` (default ``bench-data/cifar10-test-png``). A
model folder that does not exist is trained first with ``--train-epochs`` (default 20: the seed network).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Bench, add_options  # noqa: E402
MODES = ("single", "local:1", "local:2")


def write_pngs(data_path, folder: Path, n: int) -> Path:
    """The first ``n`` CIFAR-10 test images as ``folder/<class>/<row>.png`` (kept between runs)."""
    from PIL import Image

    from audit.model.data import load_cifar10

    done = folder / f".complete-{n}"
    if done.exists():
        return folder
    data = load_cifar10(data_path)
    for name in data.class_names:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(data.x_test[i]).save(folder / data.class_names[data.y_test[i]] / f"{i:05d}.png")
    done.write_text("")
    return folder


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def makespan(durations, workers: int) -> float:
    """Longest-first greedy schedule of task durations on ``workers`` workers."""
    loads = [0.0] * workers
    for d in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += d
    return max(loads) if loads else 0.0


def task_times(stream, prefix: str) -> tuple[list[float], float]:
    """Compute seconds of the tasks named ``prefix…``, with each worker's first task replaced by the median
    (its excess is the one-off opening of the model and importing its framework, paid once per worker in
    parallel), and the largest such excess."""
    rows = []
    for t in stream:
        if str(t.get("key", "")).startswith(prefix) or f"'{prefix}" in str(t.get("key", "")):
            compute = [s for s in t["startstops"] if s["action"] == "compute"]
            rows.append((t.get("worker"), min(s["start"] for s in compute), sum(s["stop"] - s["start"] for s in compute)))
    if not rows:
        return [], 0.0
    median = float(np.median([d for _, _, d in rows]))
    first = {}
    for worker, start, d in rows:
        if worker not in first or start < first[worker][0]:
            first[worker] = (start, d)
    firsts = {(w, s) for w, (s, _) in first.items()}
    steady = [median if (w, s) in firsts else d for w, s, d in rows]
    opening = max((d - median for _, (s, d) in first.items()), default=0.0)
    return steady, max(0.0, opening)


def one_mode(args) -> dict:
    """Run one mode in this process; the JSON line it prints is read by :func:`main`."""
    import contextlib

    from audit.engine.distributed import dask_client
    from audit.model.image_audit import image_predictions, image_source
    from audit.pipeline import run_audit
    from audit.robustness.params import CORRUPTIONS, SEVERITIES
    from audit.robustness.step import RobustnessSettings, add_robustness

    mode = args.one
    corruptions = CORRUPTIONS if args.corruptions == "cifar10-c" else tuple(args.corruptions.split(","))
    severities = SEVERITIES if args.severities == "all" else tuple(int(s) for s in args.severities.split(","))
    opts = RobustnessSettings(corruptions=tuple(corruptions), severities=tuple(severities),
                              n_samples=args.corruption_samples, data_dir=None, given=True)
    out = {"mode": mode}
    cm = contextlib.nullcontext(None) if mode == "single" else dask_client(mode)
    with cm as client:
        workers = 1 if client is None else len(client.scheduler_info()["workers"])
        out["workers"] = workers
        stream = None
        if client is not None:
            from distributed import get_task_stream

            stream = get_task_stream(client)
            stream.__enter__()
        t = time.perf_counter()
        run = image_predictions(args.model, args.pngs, batch_size=args.batch_size, progress=False, client=client)
        out["inference_s"] = time.perf_counter() - t
        source = image_source(run, thumbnails=False)
        result = run_audit(source, n_bootstrap=0, images=False, reproducible=True, seed=0)
        data = result.data
        t = time.perf_counter()
        add_robustness(data, opts, pred=source.pred, images=False, seed=0, notify=lambda line: None,
                       **source.model_inputs)
        out["robustness_s"] = time.perf_counter() - t
        out["n_images"] = int(source.pred.n_samples)
        out["cells"] = len(data["robustness"]["cells"])
        out["n_per_cell"] = data["robustness"]["n_per_cell"]
        out["client_peak_rss_mb"] = rss_mb()
        if client is not None:
            stream.__exit__(None, None, None)
            tasks = stream.data
            from audit.model.dask_inference import loads

            out["worker_peak_rss_mb"] = sorted(v / 1024 for v in client.run(
                lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values())
            out["model_opened_per_worker"] = list(client.run(loads).values())
            phases = {"inference": task_times(tasks, "predict_files"), "robustness": task_times(tasks, "run_cell")}
            out["tasks"] = {k: {"n": len(v), "steady_compute_s": sum(v), "mean_s": (sum(v) / len(v)) if v else None,
                                "model_opening_s": opening} for k, (v, opening) in phases.items()}
            projection = {}
            for phase, (durations, opening) in phases.items():
                wall = out[f"{phase}_s"]
                client_s = max(0.0, wall - opening - makespan(durations, workers))
                projection[phase] = {f"{w}_workers_s": client_s + opening + makespan(durations, w)
                                     for w in (workers, 8, 32)}
                projection[phase]["client_s"] = client_s
            out["projection"] = projection
    for key in ("inference", "robustness"):
        work = out["n_images"] if key == "inference" else out["cells"] * out["n_per_cell"]
        out[f"{key}_images_per_s_per_worker"] = work / out[f"{key}_s"] / out["workers"]
    data.pop("provenance", None)
    out["digest"] = __import__("hashlib").sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AUDIT_DATA", str(REPO.parent / "shared/datasets/cifar-10-binary.tar.gz")))
    ap.add_argument("--n", type=int, default=10_000, help="test images written as PNGs and audited")
    ap.add_argument("--workdir", default=str(REPO / "bench-data"))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--corruptions", default="cifar10-c")
    ap.add_argument("--severities", default="all")
    ap.add_argument("--corruption-samples", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--train-epochs", type=int, default=20, help="when --model does not exist: train it first")
    ap.add_argument("--train-limit", type=int, default=None, help="training images (default: all)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--pngs", help=argparse.SUPPRESS)
    add_options(ap, model=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(one_mode(args)))
        return
    bench = Bench("dask_bench", args, argv)

    model = Path(args.model)
    if not (model / "manifest.json").exists():
        from audit.model.data import load_cifar10
        from audit.model.train import train

        print(f"training {model} ({args.train_epochs} epochs{'' if args.train_limit is None else f', {args.train_limit} images'})")
        train(load_cifar10(args.data), epochs=args.train_epochs, limit=args.train_limit, out_dir=model, verbose=0)
    pngs = write_pngs(args.data, Path(args.workdir) / f"cifar10-test-png-{args.n}", args.n)
    print(f"{len(os.sched_getaffinity(0))} cores; {args.n} PNGs, "
          f"robustness {args.corruptions} x severities {args.severities} x {args.corruption_samples} images")
    results = []
    for mode in args.modes.split(","):
        bench.load(mode)
        cmd = [sys.executable, __file__, "--one", mode, "--pngs", str(pngs), "--model", str(model),
               "--corruptions", args.corruptions, "--severities", args.severities,
               "--corruption-samples", str(args.corruption_samples), "--batch-size", str(args.batch_size)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode or line is None:
            sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        r = json.loads(line[len("RESULT "):])
        results.append(r)
        print(f"{mode:>8}: inference {r['inference_s']:.1f} s ({r['inference_images_per_s_per_worker']:.0f} img/s/worker), "
              f"robustness {r['robustness_s']:.1f} s ({r['cells']} cells x {r['n_per_cell']}; "
              f"{r['robustness_images_per_s_per_worker']:.0f} img/s/worker); client peak RSS "
              f"{r['client_peak_rss_mb']:.0f} MB" + (f"; worker peak RSS {', '.join(f'{v:.0f}' for v in r['worker_peak_rss_mb'])} MB"
                                                     if "worker_peak_rss_mb" in r else ""))
        for phase, p in (r.get("projection") or {}).items():
            tk = r["tasks"][phase]
            print(f"          {phase}: tasks {tk['n']} x {tk['mean_s']:.2f} s (+ {tk['model_opening_s']:.1f} s opening the "
                  "model, once a worker); projected "
                  + ", ".join(f"{k.split('_')[0]} workers {v:.1f} s" for k, v in p.items() if k != "client_s")
                  + f" (client {p['client_s']:.1f} s)")
    base = next((r for r in results if r["mode"] == "single"), None)
    for r in results:
        r["same_numbers"] = None if base is None else r["digest"] == base["digest"]
        if base is not None:
            r["speedup_vs_single"] = {k: base[f"{k}_s"] / r[f"{k}_s"] for k in ("inference", "robustness")}
    print("same audit.json outside provenance as one process: "
          + ", ".join(f"{r['mode']} {r['same_numbers']}" for r in results if r["mode"] != "single"))
    bench["n"] = args.n
    bench["results"] = results
    bench.table([{"mode": r["mode"], "inference s": round(r["inference_s"], 2),
                  "robustness s": round(r["robustness_s"], 2),
                  "client peak RSS MB": round(r["client_peak_rss_mb"]),
                  "worker peak RSS MB": ", ".join(f"{v:.0f}" for v in r.get("worker_peak_rss_mb") or []) or "-",
                  "same numbers": r["same_numbers"]} for r in results])
    print(f"load average before each mode: {', '.join(str(x['load']) for x in bench['loads'])}{bench.marked()}")
    bench.finish()


if __name__ == "__main__":
    main()
