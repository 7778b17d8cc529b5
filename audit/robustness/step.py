"""The robustness step of an audit: what was asked (:class:`RobustnessSettings`) and the call that adds the
``robustness`` section to a model audit's result (:func:`add_robustness`), used by :func:`audit.run_audit`."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from audit.errors import check_keywords


@dataclass(frozen=True)
class RobustnessSettings:
    """What ``audit run`` was asked to do; ``corruptions`` empty means robustness is off."""

    corruptions: tuple[str, ...]
    severities: tuple[int, ...]
    n_samples: int | None
    data_dir: str | None
    given: bool

    def __post_init__(self) -> None:
        """Refuse, by argument, what ``audit run``'s options refuse: unknown corruptions (none given: robustness
        off), no severity or one outside 1-5 while corruptions are given, a sample count under 1 (None: every
        test image)."""
        import difflib

        from audit.errors import MSG_NUMBER, AuditError, check_int
        from audit.robustness.params import CORRUPTIONS

        corruptions = (self.corruptions,) if isinstance(self.corruptions, str) else self.corruptions
        if corruptions is None or not hasattr(corruptions, "__iter__"):
            raise AuditError(f"corruptions: a list of corruption names (empty: robustness off); got {corruptions!r}")
        corruptions = tuple(corruptions)
        for name in corruptions:
            if name not in CORRUPTIONS:
                guess = difflib.get_close_matches(str(name), CORRUPTIONS, n=1)
                raise AuditError(f"corruptions: unknown corruption {name!r}"
                                 + (f" (did you mean {guess[0]!r}?)" if guess else "")
                                 + f"; known: {', '.join(CORRUPTIONS)}")
        severities = (self.severities,) if not hasattr(self.severities, "__iter__") else tuple(self.severities)
        if corruptions and not severities:
            raise AuditError(MSG_NUMBER.format(name="severities", expected="at least one integer in 1-5 when "
                                               "corruptions are given", value=severities))
        for severity in severities:
            if check_int("severities", severity, minimum=1) > 5:
                raise AuditError(MSG_NUMBER.format(name="severities", expected="integers in 1-5", value=severity))
        if self.n_samples is not None:
            check_int("n_samples", self.n_samples, minimum=1)
        object.__setattr__(self, "corruptions", tuple(corruptions))
        object.__setattr__(self, "severities", tuple(int(s) for s in severities))


RobustnessSettings.__init__ = check_keywords(RobustnessSettings.__init__)  # severity= -> 'severities'


def stderr_line(line: str) -> None:
    """The default ``notify`` of the long steps (robustness, explanations): a progress line on standard error."""
    print(line, file=sys.stderr)


def add_robustness(result: dict, opts: RobustnessSettings, *, pred, images: bool, seed: int,
                   model=None, dataset=None, batch_size: int = 512, subset_loader=None, predictor=None,
                   run_cells=None, properties=None, notify: Callable[[str], None] = stderr_line) -> None:
    """Run the robustness audit and store it in ``result``: of a Keras ``model`` on a ``dataset`` held in
    memory (x_test, y_test, class_names: the CIFAR-10 path), or of ``predictor`` (uint8 images ->
    probabilities) on images read from files by ``subset_loader(indices) -> uint8 images``, which
    loads only the seeded stratified subset of the audited samples (image folders and manifests).

    With ``run_cells`` (:func:`audit.model.dask_inference.cell_runner`) each cell is a Dask task that reads
    its images on a worker; for image files the subset's brightness and contrast terciles then come from
    ``properties`` (computed on the workers during inference) instead of the decoded subset."""
    if not opts.corruptions:
        return
    if subset_loader is not None:
        _add_robustness_from_files(result, opts, pred=pred, images=images, seed=seed,
                                   subset_loader=subset_loader, predictor=predictor, notify=notify,
                                   run_cells=run_cells, properties=properties)
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
        groups=groups, released=released, sample_ids=pred.sample_ids, thumbnails=images, run_cells=run_cells)
    rb = result["robustness"]
    worst = sorted((r for r in rb["by_corruption"] if r["accuracy"] is not None), key=lambda r: r["accuracy"])[:3]
    notify(f"audit: robustness: done in {time.perf_counter() - start:.1f} s; mean accuracy "
               f"{rb['mean_accuracy']:.3f} over {len(rb['cells'])} cells (clean {rb['clean']['accuracy']:.3f}); worst: "
               + ", ".join(f"{r['corruption']} {r['accuracy']:.3f}" for r in worst))


def _add_robustness_from_files(result: dict, opts: RobustnessSettings, *, pred, images: bool, seed: int,
                               subset_loader, predictor, notify, run_cells=None, properties=None) -> None:
    """The robustness audit of a model on image files: the stratified subset is read once (at the model's
    input size), then every cell runs on it; image-property terciles are those of the subset."""
    from audit.metrics.slices import image_slices
    from audit.robustness.evaluate import evaluate_robustness, stratified_subset

    if opts.data_dir:
        from audit.errors import AuditError

        raise AuditError("released CIFAR-10-C arrays (--corruption-data) apply to the CIFAR-10 test set, not "
                         "to image folders", path=opts.data_dir)
    index = stratified_subset(pred.labels, opts.n_samples, seed)
    if run_cells is not None:  # the cells read their images on the workers
        from audit.metrics.slices import property_slices

        x = None
        slices = property_slices({k: np.asarray(properties[k])[index] for k in ("brightness", "contrast")})
    else:
        x = subset_loader(index)
        slices = image_slices(x)
    groups = {sl["name"]: (sl["labels"], True) for sl in slices}
    groups.update({name: (np.asarray(values)[index], False) for name, values in (pred.groups or {}).items()})
    start = time.perf_counter()
    notify(f"audit: robustness: {len(opts.corruptions) * len(opts.severities)} cells of {len(index)} images")
    result["robustness"] = evaluate_robustness(
        predictor, x, pred.labels[index], pred.class_names, corruptions=opts.corruptions,
        severities=opts.severities, n_samples=None, seed=seed,
        temperature=(result.get("calibration") or {}).get("temperature"), clean_probs=pred.probs[index],
        groups=groups, released=None,
        sample_ids=None if pred.sample_ids is None else np.asarray(pred.sample_ids)[index], thumbnails=images,
        run_cells=None if run_cells is None else _on_subset(run_cells, index, subset_loader))
    result["robustness"]["sample"]["of"] = int(pred.n_samples)
    notify(f"audit: robustness: done in {time.perf_counter() - start:.1f} s; mean accuracy "
           f"{result['robustness']['mean_accuracy']:.3f} over {len(result['robustness']['cells'])} cells")


def _on_subset(run_cells, index: np.ndarray, subset_loader):
    """``run_cells`` of the whole image set, called by :func:`evaluate_robustness` with positions in the
    subset ``index`` (it was given the subset as the test set): those positions mapped back to image
    numbers; the clean example image read by ``subset_loader``."""
    def run(idx, cells, example, seed):
        probs, shown, _ = run_cells(index[idx], cells, example, seed)
        clean = subset_loader(index[idx][[example]])[0] if example is not None and subset_loader else None
        return probs, shown, clean
    return run
