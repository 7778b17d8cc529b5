"""Benchmark: the confidence metrics (per-class ROC AUC and average precision with intervals and curves,
and the selective section before and after temperature scaling, with a group column) on N × K random
predictions, against scikit-learn's per-class ``roc_auc_score`` + ``average_precision_score`` on the
same data in the same process; also the mergeable histogram updates of a streamed audit.

    .venv/bin/python bench/confidence_bench.py              # 1M × 10, best of 3
    .venv/bin/python bench/confidence_bench.py --n 200000 --repeat 1

Each path is timed as the best of ``--repeat`` wall-clock runs, the paths interleaved (round r runs
each once, after a load-average reading) so that load on a shared machine hits them alike. Exactness: the
largest absolute difference from scikit-learn over the K classes is printed. ``--json PATH`` writes every
round's wall seconds per path (``runs_s``), the bests and ``ratio`` (scikit-learn / every new in-memory
metric, best wall times).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Bench, add_options  # noqa: E402
from metrics_bench import make_data  # noqa: E402 - the same seeded data as the metrics bench (bench/ is on sys.path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--float32", action="store_true",
                        help="probabilities as float32, as a Keras model outputs them")
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    bench = Bench("confidence_bench", args, argv)

    from sklearn.metrics import average_precision_score, roc_auc_score

    from audit.engine.build import MAX_WORKERS, available_cores
    from audit.metrics.confusion import top_label
    from audit.metrics.ranking import RankingAccumulator, ranking_exact
    from audit.metrics.selective import SelectiveAccumulator, selective_exact
    from audit.metrics.temperature import apply_temperature

    labels, probs, groups = make_data(args.n, args.k, args.seed)
    if args.float32:
        probs = probs.astype(np.float32)
    names = [f"c{i}" for i in range(args.k)]
    scaled = apply_temperature(probs, 1.7)
    top, s_top = top_label(probs), top_label(scaled)
    grouping = [{"name": "region", "values": groups}]
    out: dict = {}

    def sklearn_path():
        out["sk"] = [(roc_auc_score(labels == k, probs[:, k]), average_precision_score(labels == k, probs[:, k]))
                     for k in range(args.k)]

    def ranking_path():
        out["rank"] = ranking_exact(labels, probs, threads=min(available_cores(), MAX_WORKERS))

    def selective_path():
        out["sel"] = selective_exact(labels, *top, names, grouping)
        out["sel_after"] = selective_exact(labels, *s_top, names, grouping)

    def stream_path():
        RankingAccumulator(args.k).update(labels, probs)
        acc = SelectiveAccumulator(args.k, ["region"]).update(labels, *top, {"region": groups})
        out["stream_sel"] = acc.result(names)

    paths = {"scikit-learn roc_auc_score + average_precision_score, per class": sklearn_path,
             "ranking_exact (AUC, AP, DeLong/logit intervals, curves)": ranking_path,
             "selective_exact before + after scaling (with a group column)": selective_path,
             "streamed: histogram updates (ranking + selective) + result": stream_path}
    runs = bench.interleave(paths, args.repeat, echo=False)
    best = {name: min(times) for name, times in runs.items()}
    base = best[next(iter(paths))]
    ours = best[list(paths)[1]] + best[list(paths)[2]]
    print(f"N = {args.n:,}, K = {args.k}, {probs.dtype}, best of {args.repeat}, ranking in up to "
          f"{min(available_cores(), MAX_WORKERS)} threads")
    for name, seconds in best.items():
        print(f"  {seconds:8.3f} s  {name}")
    print(f"  {ours:8.3f} s  every new in-memory metric (ranking + selective before and after scaling)")
    loads = [r["load"] for r in bench["loads"]]
    print(f"ratio scikit-learn / every new in-memory metric: {base / ours:.1f}x   (load average before each round "
          f"{min(loads):.2f}–{max(loads):.2f}){bench.marked()}")
    auc_diff = max(abs(a - s["roc_auc"]) for (a, _), s in zip(out["sk"], out["rank"]))
    ap_diff = max(abs(b - s["average_precision"]) for (_, b), s in zip(out["sk"], out["rank"]))
    print(f"largest |difference| from scikit-learn: ROC AUC {auc_diff:.2e}, AP {ap_diff:.2e}")
    sel, st = out["sel"], out["stream_sel"]
    print(f"selective at {sel['target_accuracy']:.0%}: AURC {sel['aurc']:.4f}, E-AURC {sel['eaurc']:.4f}, "
          f"coverage {sel['coverage']:.4f}; streamed AURC {st['aurc']:.4f} (bound {st['aurc_bound']:.1e}), "
          f"coverage {st['coverage']:.4f} (upper {st['coverage_upper']:.4f})")
    bench.data.update(n=args.n, k=args.k, dtype=str(probs.dtype), repeat=args.repeat, best_s=best,
                      every_new_metric_best_s=ours, ratio=base / ours, max_abs_difference_auc=auc_diff,
                      max_abs_difference_ap=ap_diff)
    bench.table([{"path": name, "best s": round(seconds, 4), "runs s": ", ".join(f"{t:.3f}" for t in runs[name])}
                 for name, seconds in best.items()]
                + [{"path": "every new in-memory metric (ranking + selective)", "best s": round(ours, 4),
                    "runs s": f"ratio scikit-learn / ours {base / ours:.2f}x"}])
    bench.headline("scikit-learn / every new in-memory metric, best wall", base / ours)
    bench.finish()


if __name__ == "__main__":
    main()
