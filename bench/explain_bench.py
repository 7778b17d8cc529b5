"""Benchmark: the saliency maps of the gallery (24 confident mistakes) on the seed network, Grad-CAM and occlusion,
each with its sanity checks and PNGs: seconds added to an audit, the sanity figures, and the bytes added to
report.html and audit.json.

    .venv/bin/python bench/explain_bench.py                       # seed network, 1 epoch on 2,000 images
    .venv/bin/python bench/explain_bench.py --model models/cifar10-seed --json explain.json

The model is a saved ``audit train`` folder (``--model``), else the seed network (built by
``audit.model.network.make_model`` through ``audit.model.train.train``) trained for ``--epochs`` on the first
``--limit`` CIFAR-10 training images (a quick stand-in: its sanity figures are those of a weak model; the timings
depend on the architecture, not on the weights). The 24 most confident mistakes on the first ``--n-test`` test
images are explained. Each method is timed cold (its first call, as in one ``audit run``) and as the best of
``--repeat`` warm calls, the methods interleaved so that load on a shared machine hits them alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_DATA, Bench, add_options  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model folder written by `audit train` (default: train a quick one)")
    parser.add_argument("--data", default=os.environ.get("AUDIT_DATA", DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=2000, help="training images of the quick model")
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    bench = Bench("explain_bench", args, argv)

    from audit.model.artifacts import load_model
    from audit.model.data import load_cifar10
    from audit.model.explain.section import absent_section, explain_mistakes
    from audit.model.source import saved_model_explainer
    from audit.predictions import make_predictions
    from audit.render.html import render_html
    from audit.result.write import dump_json
    from audit.result.settings import MAX_MISTAKES

    data = load_cifar10(args.data)
    trained_here = None
    if args.model:
        model_dir = Path(args.model)
    else:
        from audit.model.train import train

        model_dir = Path(tempfile.mkdtemp(prefix="explain-bench-")) / "seed"
        t = time.perf_counter()
        train(data, epochs=args.epochs, limit=args.limit, seed=args.seed, out_dir=model_dir, verbose=0)
        trained_here = {"epochs": args.epochs, "limit": args.limit, "seconds": round(time.perf_counter() - t, 1)}
    model = load_model(model_dir)
    x, y = data.x_test[:args.n_test], data.y_test[:args.n_test]
    explainer = saved_model_explainer(model, x)
    probs = explainer.predict(x)
    pred = make_predictions(y, probs, data.class_names, sample_ids=np.array([f"test/{i:05d}" for i in range(len(y))]),
                            images=x)
    import audit

    result = audit.run_audit(pred, n_bootstrap=0, reproducible=True, explanations=False).data
    mistakes = result["mistakes"]
    assert len(mistakes) == MAX_MISTAKES, f"only {len(mistakes)} mistakes"

    methods = {"grad-cam": None, "occlusion": "occlusion"}
    timings = {name: [] for name in methods}
    sections = {}
    for r in range(args.repeat + 1):  # the first round is the cold one
        bench.load("cold round" if r == 0 else f"warm round {r}", echo=False)
        for name, method in methods.items():
            t = time.perf_counter()
            sections[name] = explain_mistakes(result, explainer, seed=args.seed, method=method)
            timings[name].append(time.perf_counter() - t)

    off = dict(result, explanations=absent_section("turned off", seed=args.seed))
    base_html = len(render_html(off).encode())
    base_json = len(dump_json(off).encode())  # as audit.json is written: indented
    figures = {"model": str(model_dir) if args.model else "seed network (audit.model.network.make_model), trained here",
               "trained_here": trained_here, "n_images": len(mistakes), "cpu_count": os.cpu_count(),
               "accuracy_on_test_images": round(float((probs.argmax(axis=1) == y).mean()), 4), "n_test": len(y),
               "methods": {}}
    for name in methods:
        with_maps = dict(result, explanations=sections[name])
        s = sections[name]["sanity"]
        figures["methods"][name] = {
            "layer": sections[name]["layer"], "patch": sections[name]["patch"], "stride": sections[name]["stride"],
            "seconds_cold": round(timings[name][0], 3), "seconds_warm_best": round(min(timings[name][1:]), 3),
            "randomization_rank_correlation": s["randomization_rank_correlation"],
            "randomized_layers": s["randomized_layers"], "deletion_win_rate": s["deletion_win_rate"],
            "verdicts": s["verdicts"],
            "report_bytes_added": len(render_html(with_maps).encode()) - base_html,
            "audit_json_bytes_added": len(dump_json(with_maps).encode()) - base_json,
        }
    print(f"model accuracy on the first {len(y)} test images: {figures['accuracy_on_test_images']:.3f}")
    for name, f in figures["methods"].items():
        print(f"{name:9s} 24 images: {f['seconds_cold']:.2f} s cold, {f['seconds_warm_best']:.2f} s warm (best of "
              f"{args.repeat}); rank corr {f['randomization_rank_correlation']}, deletion win rate "
              f"{f['deletion_win_rate']}; report +{f['report_bytes_added'] / 1024:.1f} KB, audit.json "
              f"+{f['audit_json_bytes_added'] / 1024:.1f} KB")
    loads = [r["load"] for r in bench["loads"]]
    print(f"targets: grad-cam <= 2 s, occlusion <= 5 s for 24 images on 2 cores; report <= 150 KB added "
          f"(load average before each round {min(loads):.2f}-{max(loads):.2f}){bench.marked()}")
    bench.update(figures)
    bench.table([{"method": name, "24 images cold s": f["seconds_cold"], "warm best s": f["seconds_warm_best"],
                  "rank corr.": f["randomization_rank_correlation"], "deletion win rate": f["deletion_win_rate"],
                  "report KB added": round(f["report_bytes_added"] / 1024, 1)} for name, f in figures["methods"].items()])
    bench.finish()


if __name__ == "__main__":
    main()
