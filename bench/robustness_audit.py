"""Added wall time of the default robustness audit (15 corruptions × 5 severities × 1,000 images) on a
saved model, and the model's robustness table.

    .venv/bin/python bench/robustness_audit.py --model models/cifar10-seed --data ../shared/datasets/cifar-10-binary.tar.gz

Times, in one process: the clean audit's own inference (test + validation split, as `audit run` does,
for scale), then `evaluate_robustness` with the defaults `audit run` uses (the added time: corruption,
inference and metrics of every cell), split into corruption and inference by timing them separately
once more. Target: <= 60 s on 2 cores. Then prints clean accuracy, mean corrupted accuracy, accuracy and
ECE by severity and the three worst corruptions. `--samples all` evaluates the whole test set per cell.
``--json PATH`` writes the seconds of each part and the robustness table's figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options, require_model  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AUDIT_DATA", str(REPO.parent / "shared/datasets/cifar-10-binary.tar.gz")))
    ap.add_argument("--samples", default="1000")
    ap.add_argument("--seed", type=int, default=0)
    add_options(ap, model=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    bench = Bench("robustness_audit", args, argv)
    require_model(args.model, "robustness_audit.py")
    n_samples = None if args.samples == "all" else int(args.samples)

    from audit.metrics.temperature import fit_temperature
    from audit.model.artifacts import load_model
    from audit.model.data import load_cifar10
    from audit.model.predict import cifar10_predictions
    from audit.robustness import corrupt
    from audit.robustness.evaluate import evaluate_robustness, keras_predictor, stratified_subset
    from audit.robustness.params import CORRUPTIONS, SEVERITIES

    data = load_cifar10(args.data)
    model = load_model(args.model)
    bench.load("clean inference", echo=False)
    t = time.perf_counter()
    pred = cifar10_predictions(args.model, data, split="test", model=model, progress=False)
    val = cifar10_predictions(args.model, data, split="validation", model=model, images=False, progress=False)
    clean_s = time.perf_counter() - t
    temperature = fit_temperature(val.labels, val.probs)
    predict = keras_predictor(model)
    print(f"cores {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f} (machine shared)")
    print(f"clean audit inference (10,000 test + validation split): {clean_s:.1f} s")

    bench.load("robustness audit", echo=False)
    t = time.perf_counter()
    section = evaluate_robustness(predict, data.x_test, data.y_test, data.class_names, n_samples=n_samples,
                                  seed=args.seed, temperature=temperature, clean_probs=pred.probs)
    added = time.perf_counter() - t
    print(f"robustness audit, {len(section['cells'])} cells of {section['n_per_cell']} images: {added:.1f} s added")

    idx = stratified_subset(data.y_test, n_samples, args.seed)
    x = data.x_test[idx]
    bench.load("corruption and inference, timed again", echo=False)
    gen = inf = 0.0
    for name in CORRUPTIONS:
        for s in SEVERITIES:
            t = time.perf_counter()
            xc = corrupt(x, name, s, seed=args.seed)
            gen += time.perf_counter() - t
            t = time.perf_counter()
            predict(xc)
            inf += time.perf_counter() - t
    print(f"  of which (timed again): corruption {gen:.1f} s, inference {inf:.1f} s, the rest metrics/thumbnails")

    print(f"\nclean accuracy (subset) {section['clean']['accuracy']:.4f}; on all 10,000: "
          f"{float(np.mean(pred.probs.argmax(1) == pred.labels)):.4f}")
    print(f"mean corrupted accuracy over {len(section['cells'])} cells: {section['mean_accuracy']:.4f}")
    print("severity  accuracy   ECE     ECE after T")
    for row in section["by_severity"]:
        print(f"  {'clean' if row['severity'] == 0 else row['severity']:>5}   {row['accuracy']:.4f}   "
              f"{row['ece']:.4f}   {row['ece_after_scaling']:.4f}")
    worst = sorted(section["by_corruption"], key=lambda r: r["accuracy"])[:3]
    print("three worst corruptions: " + ", ".join(f"{r['corruption']} {r['accuracy']:.4f}" for r in worst)
          + bench.marked())
    bench.data.update(clean_inference_s=clean_s, added_s=added, corruption_s=gen, inference_s=inf,
                      cells=len(section["cells"]), n_per_cell=section["n_per_cell"],
                      clean_accuracy=section["clean"]["accuracy"], mean_accuracy=section["mean_accuracy"],
                      by_severity=section["by_severity"], worst=worst)
    bench.table([{"cells": len(section["cells"]), "images per cell": section["n_per_cell"],
                  "clean inference s": round(clean_s, 2), "robustness audit added s": round(added, 2),
                  "of which corruption s": round(gen, 2), "inference s": round(inf, 2),
                  "mean corrupted accuracy": round(section["mean_accuracy"], 4)}])
    bench.headline("robustness audit, added wall seconds", added)
    bench.finish()


if __name__ == "__main__":
    main()
