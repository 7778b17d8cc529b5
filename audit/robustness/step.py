"""The robustness step of an audit: what was asked (:class:`RobustnessSettings`) and the call that adds the
``robustness`` section to a model audit's result (:func:`add_robustness`), used by :func:`audit.run_audit`."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class RobustnessSettings:
    """What ``audit run`` was asked to do; ``corruptions`` empty means robustness is off."""

    corruptions: tuple[str, ...]
    severities: tuple[int, ...]
    n_samples: int | None
    data_dir: str | None
    given: bool


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def add_robustness(result: dict, opts: RobustnessSettings, *, model, dataset, pred, batch_size: int,
                   images: bool, seed: int, notify: Callable[[str], None] = _stderr) -> None:
    """Run the robustness audit of a Keras model on its test set and store it in ``result``."""
    if not opts.corruptions:
        return
    from audit.metrics.slices import image_slices
    from audit.robustness.evaluate import evaluate_robustness, keras_predictor
    from audit.robustness.released import ReleasedCorruptions

    released = None
    if opts.data_dir:
        released = ReleasedCorruptions(Path(opts.data_dir), dataset.y_test, dataset.x_test.shape[1:])
        released.check(opts.corruptions)
    groups = {sl["name"]: (sl["labels"], True) for sl in image_slices(dataset.x_test)}
    groups.update({name: (values, False) for name, values in (pred.groups or {}).items()})
    start = time.perf_counter()
    n_cells = len(opts.corruptions) * len(opts.severities)
    notify(f"audit: robustness: {n_cells} cells of {opts.n_samples or len(dataset.y_test)} images")
    result["robustness"] = evaluate_robustness(
        keras_predictor(model, batch_size=batch_size), dataset.x_test, dataset.y_test, dataset.class_names,
        corruptions=opts.corruptions, severities=opts.severities, n_samples=opts.n_samples, seed=seed,
        temperature=(result.get("calibration") or {}).get("temperature"), clean_probs=pred.probs,
        groups=groups, released=released, sample_ids=pred.sample_ids, thumbnails=images)
    rb = result["robustness"]
    worst = sorted((r for r in rb["by_corruption"] if r["accuracy"] is not None), key=lambda r: r["accuracy"])[:3]
    notify(f"audit: robustness: done in {time.perf_counter() - start:.1f} s; mean accuracy "
               f"{rb['mean_accuracy']:.3f} over {len(rb['cells'])} cells (clean {rb['clean']['accuracy']:.3f}); worst: "
               + ", ".join(f"{r['corruption']} {r['accuracy']:.3f}" for r in worst))
