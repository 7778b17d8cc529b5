"""Time the label_quality (cleanlab) and slices (SliceLine) sections at 10k and 1M rows, beyond their imports.

    .venv/bin/python bench/data_quality_bench.py [--rows 10000 1000000] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Bench, add_options  # noqa: E402


def make(n: int, k: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    features = {f"f{j}": rng.integers(0, c, n).astype(str) for j, c in enumerate((6, 4, 4, 4, 4, 3, 3))}
    features["class"] = y.astype(str)
    return y, probs, features


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    add_options(ap)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    bench = Bench("data_quality_bench", args, argv)
    t = time.perf_counter()
    import cleanlab.filter  # noqa: F401
    import sliceline.slicefinder  # noqa: F401
    import scipy.stats  # noqa: F401
    out = {"import_s": time.perf_counter() - t, "rows": {}}
    from audit.metrics.label_quality import label_quality
    from audit.metrics.weak_slices import weak_slices

    y, p, f = make(2000)
    label_quality(y, p, [str(c) for c in range(10)]); weak_slices(y, p.argmax(1), f, n_classes=10)  # warm-up
    for n in args.rows:
        bench.load(f"{n:,} rows")
        y, p, f = make(n)
        names = [str(c) for c in range(10)]
        t = time.perf_counter(); lq = label_quality(y, p, names); lq_s = time.perf_counter() - t
        pred = p.argmax(axis=1)
        t = time.perf_counter(); sl = weak_slices(y, pred, f, n_classes=10); sl_s = time.perf_counter() - t
        out["rows"][n] = {"label_quality_s": lq_s, "n_flagged": lq["n_flagged"], "slices_s": sl_s,
                          "features": len(f), "n_tested": sl["n_tested"]}
        print(n, out["rows"][n], flush=True)
    print(f"imports (cleanlab, sliceline, scipy.stats): {out['import_s']:.2f} s{bench.marked()}")
    bench.update(out)
    bench.table([{"rows": n, "label_quality s": round(r["label_quality_s"], 3), "slices s": round(r["slices_s"], 3),
                  "n_flagged": r["n_flagged"]} for n, r in out["rows"].items()])
    bench.finish()


if __name__ == "__main__":
    main()
