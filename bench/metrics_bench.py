"""Benchmark: every audit metric on N × K random predictions against the straightforward path
(scikit-learn confusion_matrix + classification_report + log_loss, a numpy ECE loop, fairlearn
MetricFrame on raw rows), same data, same process; plus a chunked run over a memory-mapped 10M file.

    .venv/bin/python bench/metrics_bench.py                 # 1M × 10
    .venv/bin/python bench/metrics_bench.py --big 10000000  # also 10M × 10 read from disk in chunks
    .venv/bin/python bench/metrics_bench.py --skip-main --blocks --repeat 7  # row-block sizes

Each path is timed as the best of ``--repeat`` (default 3) wall-clock runs, the paths interleaved
(round r runs every path once), so load on a shared machine hits them alike; peak memory is the
tracemalloc peak of one further, untimed run of each. ``--json PATH`` writes every round's wall seconds per path
(``runs_s``, with a load-average reading before each round), the bests, peaks and ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import Bench, add_options  # noqa: E402

GROUPS = np.array(["north", "south", "east", "west"])


def make_data(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.3), n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(1), rng.integers(0, k, n))
    groups = GROUPS[rng.integers(0, len(GROUPS), n)]
    return labels, probs, groups


def naive_classification(labels, probs) -> dict:
    """The straightforward per-sample path: scikit-learn confusion matrix, classification report and log
    loss over the K columns, and a numpy 15-bin top-label ECE loop (bins (lo, hi])."""
    from sklearn.metrics import classification_report, confusion_matrix, log_loss

    k = probs.shape[1]
    pred = probs.argmax(1)
    cm = confusion_matrix(labels, pred, labels=list(range(k)))
    report = classification_report(labels, pred, labels=list(range(k)), output_dict=True, zero_division=0)
    nll = log_loss(labels, probs, labels=list(range(k)))
    conf = probs.max(1)
    correct = pred == labels
    edges = np.linspace(0, 1, 16)
    ece = 0.0
    for b in range(15):
        mask = (conf > edges[b]) & (conf <= edges[b + 1])
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return {"pred": pred, "cm": cm, "acc": report["accuracy"], "nll": nll, "ece": ece}


def naive(labels, probs, groups):
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    out = naive_classification(labels, probs)
    mf = MetricFrame(metrics=accuracy_score, y_true=labels, y_pred=out.pop("pred"), sensitive_features=groups)
    return {**out, "by_group": mf.by_group.to_dict(), "difference": mf.difference()}


def ours_metrics(labels, probs, groups):
    from audit.engine.build import AuditAccumulator

    class Chunk:
        pass

    c = Chunk()
    c.labels, c.probs, c.groups = labels, probs, {"g": groups}
    acc = AuditAccumulator([f"c{i}" for i in range(probs.shape[1])], group_names=["g"])
    return acc.update(c).finalize(n_bootstrap=0)


def ours_engine(labels, probs, groups, n_bootstrap):
    from audit.engine.build import build_result
    from audit.predictions import Predictions

    pred = Predictions(labels=labels, probs=probs, class_names=tuple(f"c{i}" for i in range(probs.shape[1])),
                       groups={"g": groups})
    return build_result(pred, n_bootstrap=n_bootstrap, images=False)


def machine() -> str:
    """One line: CPU model, cores, numpy version, load averages (bench/common.py's description)."""
    m = common.machine()
    load = " ".join(f"{x:.1f}" for x in common.load_averages())
    return f"{m['cpu']}, {m['cores']} cores, numpy {m['numpy']}, load average {load}"


def measure_interleaved(paths, repeat, bench=None, label="round"):
    """Best wall time of ``repeat`` interleaved rounds and tracemalloc peak of each path (every round's wall
    seconds and the load before it recorded in ``bench`` where given)."""
    best = {name: float("inf") for name, _ in paths}
    out = {}
    for r in range(repeat):
        if bench is not None:
            bench.load(f"{label} {r + 1}", echo=False)
        for name, fn in paths:
            t = time.perf_counter()
            out[name] = fn()
            seconds = time.perf_counter() - t
            best[name] = min(best[name], seconds)
            if bench is not None:
                bench.setdefault("runs_s", {}).setdefault(name, []).append(seconds)
    peak = {}
    for name, fn in paths:
        tracemalloc.start()
        fn()
        peak[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, best, peak


def run_main(n, k, seed, repeat, bench=None):
    import fairlearn.metrics  # noqa: F401  (import cost is not part of either timing)
    import sklearn.metrics  # noqa: F401

    labels, probs, groups = make_data(n, k, seed)
    print(f"machine: {machine()}")
    print(f"data: {n:,} × {k} Dirichlet(0.3) probabilities, seed {seed}, one group column (4 values); "
          f"best of {repeat} interleaved runs")
    paths = [
        ("straightforward (sklearn cm + report + log_loss, numpy ECE loop, MetricFrame raw rows)",
         lambda: naive(labels, probs, groups)),
        ("ours: accumulators, every metric except bootstrap/temperature/exact ACE",
         lambda: ours_metrics(labels, probs, groups)),
        ("ours: build_result, no bootstrap (adds T cross-fit, exact ACE, after-scaling)",
         lambda: ours_engine(labels, probs, groups, 0)),
        ("ours: build_result, bootstrap B=200", lambda: ours_engine(labels, probs, groups, 200)),
    ]
    out, best, peak = measure_interleaved(paths, repeat, bench)
    ref, ours, eng = out[paths[0][0]], out[paths[1][0]], out[paths[3][0]]
    assert ours["confusion_matrix"] == ref["cm"].tolist()
    assert abs(ours["calibration"]["ece"] - ref["ece"]) < 1e-9
    # log_loss clips at float64 eps, we at 1e-15: they differ only where p_true < 1e-15
    assert abs(ours["calibration"]["nll"] - ref["nll"]) < 1e-4 * ref["nll"]
    assert abs(ours["disparity"][0]["difference"] - ref["difference"]) < 1e-12
    assert abs(eng["calibration"]["ece"] - ref["ece"]) < 1e-9
    t_ref = best[paths[0][0]]
    for name, _ in paths:
        print(f"{best[name]:8.3f} s  peak {peak[name] / 2**20:8.1f} MiB  {t_ref / best[name]:7.1f}×  {name}")
    print("results agree with the straightforward path (confusion matrix, ECE, NLL, group difference)")
    if bench is not None:
        bench.data.update(n=n, k=k, repeat=repeat, best_s=best, peak_bytes=peak,
                          ratio={name: t_ref / best[name] for name, _ in paths})
        bench.table([{"path": name, "best s": round(best[name], 4), "peak MiB": round(peak[name] / 2**20, 1),
                      "straightforward / path": round(t_ref / best[name], 2)} for name, _ in paths])
        bench.headline("straightforward / accumulators, best wall", t_ref / best[paths[1][0]])


def run_blocks(n, k, seed, repeat, bench=None):
    """The accumulator path with AuditAccumulator.update's row blocks of several sizes (one pass: none)."""
    import audit.engine.build as engine

    labels, probs, groups = make_data(n, k, seed)
    sizes = [1 << 15, 1 << 16, 1 << 17, 1 << 18, None]
    default = engine.BLOCK_ROWS

    def with_blocks(size):
        def run():
            engine.BLOCK_ROWS = n if size is None else size  # a chunk of <= 2 blocks is one pass
            try:
                return ours_metrics(labels, probs, groups)
            finally:
                engine.BLOCK_ROWS = default
        return run

    paths = [(f"blocks of {size:,} rows" if size else "one pass (no blocks)", with_blocks(size)) for size in sizes]
    _, best, _ = measure_interleaved(paths, repeat, bench, "blocks round")
    if bench is not None:
        bench["blocks_best_s"] = {name: best[name] for name, _ in paths}
    print(f"row blocks of AuditAccumulator.update ({engine.available_cores()} threads), best of {repeat}:")
    for name, _ in paths:
        print(f"{best[name] * 1000:8.1f} ms  {name}")


def big_child(folder: str, chunk: int, check_n: int, out_json: str | None = None):
    from audit.engine.build import AuditAccumulator

    # Chunks are read with explicit reads (not a memory map), so the page cache of the 400 MB file
    # is not counted in this process's resident memory; the memory map gives shape and dtype.
    arrays = {name: np.load(Path(folder) / f"{name}.npy", mmap_mode="r") for name in ("labels", "probs", "groups")}
    labels, probs = arrays["labels"], arrays["probs"]
    names = [f"c{i}" for i in range(probs.shape[1])]

    def read(name, s):
        arr = arrays[name]
        row = int(np.prod(arr.shape[1:], dtype=np.int64))
        stop = min(s.stop, arr.shape[0])
        with open(Path(folder) / f"{name}.npy", "rb") as fh:
            out = np.fromfile(fh, dtype=arr.dtype, count=(stop - s.start) * row,
                              offset=arr.offset + s.start * row * arr.dtype.itemsize)
        return out.reshape((stop - s.start,) + arr.shape[1:])

    class Chunk:
        def __init__(self, s):
            self.labels = read("labels", s).astype(np.int64)
            self.probs = read("probs", s).astype(np.float64)
            self.groups = {"g": GROUPS[read("groups", s)]}

    t = time.perf_counter()
    acc = AuditAccumulator(names, group_names=["g"], temperature=1.3)
    for start in range(0, labels.shape[0], chunk):
        acc.update(Chunk(slice(start, start + chunk)))
    res = acc.finalize(n_bootstrap=200)
    elapsed = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{labels.shape[0]:,} × {probs.shape[1]} read from .npy files in chunks of {chunk:,}: {elapsed:.2f} s, "
          f"peak RSS {rss:.0f} MiB, {labels.shape[0] / elapsed / 1e6:.2f} M rows/s; "
          f"accuracy {res['overall']['accuracy']:.4f}, ECE {res['calibration']['ece']:.4f}")
    if out_json:
        Path(out_json).write_text(json.dumps({"rows": int(labels.shape[0]), "seconds": elapsed, "peak_rss_mib": rss}))
    head = AuditAccumulator(names, group_names=["g"], temperature=1.3).update(Chunk(slice(0, check_n)))
    pieces = AuditAccumulator(names, group_names=["g"], temperature=1.3)
    for start in range(0, check_n, check_n // 7 + 1):
        pieces.merge(AuditAccumulator(names, group_names=["g"], temperature=1.3).update(
            Chunk(slice(start, min(start + check_n // 7 + 1, check_n)))))
    a, b = head.finalize(n_bootstrap=200), pieces.finalize(n_bootstrap=200)
    same = (a["confusion_matrix"] == b["confusion_matrix"] and a["mistakes"] == b["mistakes"] and all(
        abs(a["calibration"][key] - b["calibration"][key]) < 1e-9
        for key in ("ece", "mce", "classwise_ece", "adaptive_ece", "brier", "nll"))
        and json.dumps(a["disparity"]) == json.dumps(b["disparity"])
        and np.allclose(a["calibration"]["ece_ci"], b["calibration"]["ece_ci"], rtol=1e-9))
    print(f"chunked (8 pieces merged) == whole on the first {check_n:,} rows: {same}")
    if not same:
        sys.exit(1)


def run_big(n, k, seed, chunk, check_n, bench=None):
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        lab = np.lib.format.open_memmap(Path(folder) / "labels.npy", "w+", np.int32, (n,))
        pr = np.lib.format.open_memmap(Path(folder) / "probs.npy", "w+", np.float32, (n, k))
        gr = np.lib.format.open_memmap(Path(folder) / "groups.npy", "w+", np.int8, (n,))
        step = 1_000_000
        for i, start in enumerate(range(0, n, step)):
            m = min(step, n - start)
            labels, probs, _ = make_data(m, k, seed + i)
            probs = probs.astype(np.float32)
            probs /= probs.sum(1, keepdims=True)
            lab[start:start + m], pr[start:start + m] = labels, probs
            gr[start:start + m] = np.random.default_rng(seed + i).integers(0, len(GROUPS), m)
        lab.flush(), pr.flush(), gr.flush()
        del lab, pr, gr
        print(f"wrote {n:,} × {k} (float32) in {time.perf_counter() - t:.1f} s")
        if bench is not None:
            bench.load("big run", echo=False)
        subprocess.run([sys.executable, __file__, "--big-child", folder, "--chunk", str(chunk),
                        "--check-n", str(check_n), "--big-json", str(Path(folder) / "big.json")], check=True)
        if bench is not None:
            bench["big"] = json.loads((Path(folder) / "big.json").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds per path (best is kept)")
    ap.add_argument("--big", type=int, default=0, help="also stream this many rows from disk")
    ap.add_argument("--chunk", type=int, default=250_000)
    ap.add_argument("--check-n", type=int, default=1_000_000)
    ap.add_argument("--skip-main", action="store_true")
    ap.add_argument("--blocks", action="store_true", help="also time the accumulator's row-block sizes")
    ap.add_argument("--big-child", help=argparse.SUPPRESS)
    ap.add_argument("--big-json", help=argparse.SUPPRESS)
    add_options(ap)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.big_child:
        return big_child(args.big_child, args.chunk, args.check_n, args.big_json)
    bench = Bench("metrics_bench", args, argv)
    if not args.skip_main:
        run_main(args.n, args.k, args.seed, args.repeat, bench)
    if args.blocks:
        run_blocks(args.n, args.k, args.seed, args.repeat, bench)
    if args.big:
        run_big(args.big, args.k, args.seed, args.chunk, args.check_n, bench)
    if bench.marked():
        print(bench.marked().strip())
    bench.finish()


if __name__ == "__main__":
    main()
