"""The audit pipeline as a library: a source of predictions in, an :class:`~audit.AuditResult` out.

Every command of the CLI calls into this module and only parses options, prints and sets the exit code:
``audit run`` calls :func:`run_audit`; ``audit gate`` calls :func:`regate`. Nothing here imports
TensorFlow: a model in the loop reaches the pipeline as a :class:`~audit.sources.prepared.PreparedSource` made by
``audit.model.source`` (which does).

The flow: resolve the source (a predictions file, glob or folder; a :class:`~audit.Predictions`; or a
prepared model source) -> the metrics (:mod:`audit.engine`) -> the checklist, the baseline comparison and
the verdict (:func:`judge`) -> :class:`~audit.AuditResult`, whose ``save`` writes the four files as a set.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from audit.audit_result import AuditResult
from audit.engine.data_quality import MODULES as DATA_QUALITY_MODULES
from audit.errors import AuditError, OptionConflict, check_int, check_keywords
from audit.predictions import Predictions
from audit.prefetch import prefetch
from audit.gating import GateOutcome, check_type, checklist_answers, regate, resolve_policy  # noqa: F401  (public here too)
from audit.sources.prepared import PreparedSource

#: Rows read at once when streaming a predictions file (``--chunk-rows``).
DEFAULT_CHUNK_ROWS = 1_000_000
BASELINE_TYPES = ('a path (audit.json or predictions), "released", a run id, an AuditResult, its mapping '
                  'or Predictions')
MSG_STREAM_BASELINE = ("a predictions baseline is matched sample by sample in memory; with --stream or --dask "
                       "compare against a previous audit.json, or use --no-stream")
MSG_DASK_NO_STREAM = "--dask streams the predictions; it cannot be combined with --no-stream"
MSG_STREAM_IN_MEMORY = "streaming (--stream, --dask) reads predictions files; these predictions are already in memory"
MSG_CAL_CLASSES = "calibration set classes {found} differ from the audit set's {expected}"
MSG_UNKNOWN_GROUPS = "group column(s) {missing} not among the predictions' group columns {known}"
PREDICTION_SUFFIXES = (".npz", ".csv", ".parquet", ".pq")
MSG_ROBUSTNESS_NO_MODEL = ("the robustness audit (--corruptions) needs the model in the loop; predictions alone "
                           "have no images to corrupt")


@check_keywords
def run_audit(source: str | Path | Predictions | PreparedSource, *, group_cols: Sequence[str] = (),
              calibration: str | Path | Predictions | None = None, policy=None, checklist=None, baseline=None,
              seed: int = 0, n_bootstrap: int = 200, images: bool = True, name: str | None = None,
              reproducible: bool = False, stream: bool | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
              dask: str | None = None, history: str | None = None, robustness=None,
              explanations: bool = True, explain_layer: str | None = None,
              notify: Callable[[str], None] | None = None) -> AuditResult:
    """Audit ``source`` and judge it against a release policy.

    Parameters
    ----------
    source : path, glob, Predictions or PreparedSource
        A predictions file (``.npz``, ``.csv``, ``.parquet``, a folder of ``.npy``) or a glob of shards;
        predictions built in memory with :func:`audit.make_predictions`; or a model's predictions
        prepared by ``audit.model.source``.
    group_cols : str or sequence of str
        Group columns to measure disparity over (default: every group column of an ``.npz`` or of the
        Predictions; CSV and Parquet columns must be named). A bare string is one column: ``"site"`` is
        ``["site"]``.
    calibration : path or Predictions, optional
        Predictions held out from the audit set to fit the temperature on; default a seeded 2-fold
        cross-fit on the audit set (a PreparedSource brings its own).
    policy : Policy, path or mapping, optional
        The release policy: a file, or a mapping with the file's structure (``{"accuracy": {"min": 0.9}}``;
        sections and keys left out take the defaults). Without it the default policy gives an
        *informational* verdict.
    checklist : path or mapping, optional
        The ethics checklist answers: a TOML file, a mapping with the file's structure (``{"answer": [...],
        "model_card": {...}}``), or the mapping :func:`audit.gate.checklist.load_checklist` returns.
    baseline : path, mapping, AuditResult, Predictions, "released" or a run id, optional
        A previous audit.json (path, parsed mapping or result), previous predictions on the same test
        set (path or Predictions, matched by sample id), or a stored run of the history database:
        ``"released"`` (the last released run of this model) or a run id.
    seed, n_bootstrap : int
        Seed of the bootstrap and the cross-fit; bootstrap resamples of the ECE interval (0: none).
    images : bool
        Thumbnails of the most confident mistakes in the report (when the source has images).
    name : str, optional
        Run name and, for predictions in memory, the model name the history files its runs under
        (default: the model's or the file's name; ``"predictions"`` in memory).
    reproducible : bool
        Leave out the timestamp (``generated_at``): the same inputs give byte-identical files.
    stream, chunk_rows, dask
        Read predictions files in chunks of ``chunk_rows`` with bounded memory (default: above 2,000,000
        rows), or on a Dask cluster (``"local:N"`` or a scheduler address); see docs/scale.md.
    history : str, optional
        The audit history database (SQLAlchemy URL or SQLite path; :func:`audit.history.history_url`): its last runs
        of this model become the report's trend. A baseline named ``"released"`` or by id is read from
        it (from the default database when ``history`` is None). Recording is
        :meth:`AuditResult.record`'s job, after :meth:`AuditResult.save`.
    robustness : audit.robustness.step.RobustnessSettings, optional
        Corruptions × severities to run the model on (a model source only: a PreparedSource with
        ``model_inputs``); adds the ``robustness`` section before the verdict. ``audit run`` turns it on
        by default for model audits.
    explanations : bool, default True
        Saliency maps of the gallery's images for their predicted class (Grad-CAM for a Keras model with a
        4-D layer, occlusion otherwise) with their sanity checks (the ``explanations`` section). They need
        the model in the loop and the gallery (``images``); otherwise the section says why it is empty.
    explain_layer : str, optional
        The Keras layer Grad-CAM explains (default: the last one with a 4-D output).
    notify : callable, optional
        Receives progress lines of long steps (the robustness audit, the explanations); default: standard error.

    Returns
    -------
    AuditResult
    """
    from audit.engine.build import build_result
    from audit.result.settings import make_settings

    _check_arguments(seed=seed, n_bootstrap=n_bootstrap, chunk_rows=chunk_rows, name=name)
    group_cols = _group_columns(group_cols)
    if isinstance(baseline, numbers.Integral) and not isinstance(baseline, bool):
        baseline = str(int(baseline))  # a run id as AuditResult.record returns it: the same as "12"
    if baseline is not None:
        check_type("baseline", baseline, BASELINE_TYPES, Mapping, AuditResult, Predictions)
    if explain_layer is not None and (not isinstance(explain_layer, str) or not explain_layer.strip()):
        raise AuditError(f"explain_layer must be a non-empty string; got {explain_layer!r}")
    if explain_layer is not None and explanations and isinstance(source, PreparedSource) and source.explainer:
        from audit.model.explain.section import check_layer

        check_layer(source.explainer, explain_layer)  # before the metrics: a typo costs nothing
    policy_obj, informational = resolve_policy(policy)
    answers = checklist_answers(checklist)
    target = policy_obj.selective.target_accuracy
    common = {"seed": seed, "n_bootstrap": n_bootstrap, "group_cols": list(group_cols), "target_accuracy": target}
    provenance: dict = {}
    data = None
    if isinstance(source, PreparedSource):
        if stream or dask:
            raise OptionConflict(MSG_STREAM_IN_MEMORY)
        pred, default_name = _select_groups(source.pred, group_cols), source.name
        cal, cal_source = (_calibration(calibration, pred.class_names) if calibration is not None
                           else (source.calibration, source.calibration_source))
        provenance.update(source.provenance)
        provenance.setdefault("predictions_sha256", None)
        settings = make_settings(images=images and source.has_images, model_input=source.model_input, **common)
        kind = source.kind
    elif isinstance(source, Predictions):
        if stream or dask:
            raise OptionConflict(MSG_STREAM_IN_MEMORY)
        pred = _select_groups(source, group_cols)
        cal, cal_source = _calibration(calibration, pred.class_names)
        default_name, kind = name or "predictions", "predictions"  # in memory, the name is the model's too
        provenance.update(model_sha256=None, data_sha256=None, predictions_sha256=None)
        settings = make_settings(images=images and pred.images is not None, **common)
    else:
        from audit.engine.distributed import audit_sources, should_stream
        from audit.hashing import sha256_file
        from audit.sources import expand_sources, has_group_columns, read_provenance

        if dask and stream is False:
            raise OptionConflict(MSG_DASK_NO_STREAM)
        sources = expand_sources(source)
        streaming = bool(dask) or should_stream(sources, stream)
        if streaming and baseline is not None and _is_predictions_path(baseline):
            raise OptionConflict(MSG_STREAM_BASELINE)
        # on Dask the workers hash the shards (the client may not see the files); here a thread hashes them
        # while they are read and checked (hashlib releases the GIL)
        with ThreadPoolExecutor(max_workers=1) as hasher:
            digests = None if dask else [hasher.submit(sha256_file, p) for p in sources]
            try:
                pred, default_name = _read_sources(sources, group_cols, streaming)
                cal, cal_source = _calibration(calibration, None if streaming else pred.class_names,
                                               first_source=sources[0], group_cols=group_cols)
            except BaseException:
                hasher.shutdown(wait=False, cancel_futures=True)  # the error now, not after hashing every shard
                raise
            provenance["predictions_sha256"] = (None if digests is None else
                                                {str(p): d.result() for p, d in zip(sources, digests)})
        provenance["model_sha256"] = None
        provenance["data_sha256"] = None
        if len(sources) == 1 and not dask:  # the model and image hashes `audit predict` wrote beside the file
            provenance.update(read_provenance(sources[0], provenance["predictions_sha256"][str(sources[0])],
                                              warn=notify) or {})
        kind = "predictions"
        if streaming:  # images are never streamed
            if has_group_columns(sources, group_cols):
                prefetch("fairlearn.metrics")  # the disparity section needs it at the end of the stream
            settings = make_settings(images=False, streaming=True, chunk_rows=chunk_rows, **common)
            data = audit_sources(sources, dask=dask, hash_sources=bool(dask), group_cols=group_cols,
                                 chunk_rows=chunk_rows, calibration=cal, calibration_source=cal_source,
                                 seed=seed, n_bootstrap=n_bootstrap,
                                 run=_run_info(name, default_name, kind, seed), provenance=provenance,
                                 target_accuracy=target, settings=settings)
        else:
            settings = make_settings(images=images and pred.images is not None, **common)
    if data is None:
        prepared = source if isinstance(source, PreparedSource) else None
        # the disparity section needs fairlearn (with scikit-learn and SciPy, about 0.9 s to import), label
        # quality cleanlab and the slice search sliceline (little more once scikit-learn is in); the temperature
        # fit and the metrics before them do not, and release the GIL for most of their time
        disparity = pred.groups or pred.images is not None or (prepared is not None and prepared.image_properties)
        prefetch(*(("fairlearn.metrics",) if disparity else ()), *DATA_QUALITY_MODULES)
        data = build_result(pred, calibration=cal, calibration_source=cal_source, seed=seed,
                            n_bootstrap=n_bootstrap, images=images,
                            run=_run_info(name, default_name, kind, seed), provenance=provenance,
                            target_accuracy=target, settings=settings,
                            image_properties=prepared.image_properties if prepared else None)
        if prepared is not None and prepared.fill_thumbnails is not None and images:
            prepared.fill_thumbnails(data)
    data["explanations"] = _explanations(data, source, images=images, explanations=explanations,
                                         layer=explain_layer, seed=seed, notify=notify)
    if robustness is not None and robustness.corruptions:
        inputs = source.model_inputs if isinstance(source, PreparedSource) else None
        if inputs is None:
            raise OptionConflict(MSG_ROBUSTNESS_NO_MODEL)
        from audit.robustness.step import add_robustness

        add_robustness(data, robustness, pred=pred, images=images, seed=seed, **inputs,
                       **({"notify": notify} if notify is not None else {}))
    if not reproducible:
        data["generated_at"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    db = None
    if history is not None or (isinstance(baseline, str) and _names_a_stored_run(baseline)):
        from audit.history.engine import history_url

        db = history_url(history)  # resolved once: the stored baseline and the trend read the same database
    if isinstance(baseline, str) and _names_a_stored_run(baseline):
        from audit.history.store import HistoryStore

        stored = HistoryStore(db).baseline(baseline, model=data["run"]["model_name"])
        baseline = _StoredBaseline(stored["source"], stored["result"])
    if db is not None:
        from audit.history.hooks import released_review

        review = released_review(db, data["run"]["model_name"])
        if review is not None:
            data["released_baseline"] = review
    judge(data, policy=policy_obj, informational=informational, answers=answers, baseline=baseline,
          current_pred=pred)
    trends = None
    if history is not None:
        from audit.history.hooks import trend_rows

        trends = trend_rows(db, data)
    return AuditResult(data, trends=trends)


def judge(data: dict, *, policy, informational: bool, answers: Mapping | None = None, baseline=None,
          current_pred: Predictions | None = None) -> dict:
    """Add the ``checklist``, ``model_card``, ``baseline``, ``gate`` and ``crosswalk`` sections to the result ``data``
    (in place) and return the gate: the step shared by ``audit run`` and, on a stored result, ``audit gate``."""
    from audit.gate.checklist import checklist_section
    from audit.gate.model_card import model_card_section
    from audit.gating import verdict_sections

    data["checklist"] = checklist_section(answers)
    data["model_card"] = model_card_section(answers)
    data["baseline"] = compare_baseline(data, baseline, current_pred) if baseline is not None else None
    return verdict_sections(data, policy, informational=informational)


# -- helpers -------------------------------------------------------------------------------------------

MSG_LAYER_WITHOUT_EXPLANATIONS = "--explain-layer chooses the layer of the explanations; --no-explanations turns them off"
MSG_LAYER_WITHOUT_MODEL = ("--explain-layer names a layer of the model in the loop; a predictions file has no model "
                           "(audit the model with --model)")
REASON_OFF = "turned off (--no-explanations, or run_audit(explanations=False))"
REASON_NO_MODEL = ("a saliency map needs the model in the loop; these are predictions already made (a predictions "
                   "file or predictions in memory), so there is no model to ask")
REASON_NO_IMAGES = "left out with the gallery (--no-images, or the source has no images to show)"


def _explanations(data: dict, source, *, images: bool, explanations: bool, layer: str | None, seed: int,
                  notify) -> dict:
    """The ``explanations`` section: the maps of the gallery (a model in the loop), or why there are none.
    ``layer`` was checked against the model by :func:`run_audit` before the metrics."""
    from audit.model.explain.section import absent_section, explain_mistakes
    from audit.robustness.step import stderr_line

    if not explanations:
        if layer is not None:
            raise OptionConflict(MSG_LAYER_WITHOUT_EXPLANATIONS)
        return absent_section(REASON_OFF, seed=seed)
    model = source.explainer if isinstance(source, PreparedSource) else None
    if model is None:
        if layer is not None:
            raise OptionConflict(MSG_LAYER_WITHOUT_MODEL)
        return absent_section(REASON_NO_MODEL, seed=seed)
    if not images:
        return absent_section(REASON_NO_IMAGES, seed=seed)
    return explain_mistakes(data, model, seed=seed, layer=layer,
                            notify=notify if notify is not None else stderr_line)



MSG_NAME = "name must be a non-empty string; got {value!r}"


def _check_arguments(*, seed, n_bootstrap, chunk_rows, name) -> None:
    """The numeric and naming arguments of :func:`run_audit`, refused as the CLI's options are."""
    check_int("seed", seed, minimum=0)
    check_int("n_bootstrap", n_bootstrap, minimum=0)
    check_int("chunk_rows", chunk_rows, minimum=1)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise AuditError(MSG_NAME.format(value=name))


def _group_columns(group_cols) -> list[str]:
    """``group_cols`` as a list of column names: a bare string is one column (``"site"`` -> ``["site"]``,
    never its letters)."""
    if isinstance(group_cols, str):
        return [group_cols]
    if not isinstance(group_cols, Iterable) or isinstance(group_cols, Mapping):
        raise TypeError(f"group_cols must be a column name or a list of column names; got {type(group_cols).__name__}")
    cols = list(group_cols)
    bad = [c for c in cols if not isinstance(c, str)]
    if bad:
        raise TypeError(f"group_cols must be column names (strings); got {bad[0]!r}")
    return cols


def _run_info(name: str | None, default_name: str, kind: str, seed: int) -> dict:
    return {"name": name or default_name, "model_name": default_name, "source": kind, "seed": seed}


def _select_groups(pred: Predictions, group_cols: Sequence[str]) -> Predictions:
    """``pred`` with only the named group columns (all of them when none are named)."""
    if not group_cols:
        return pred
    missing = [g for g in group_cols if g not in pred.groups]
    if missing:
        raise AuditError(MSG_UNKNOWN_GROUPS.format(missing=missing, known=sorted(pred.groups)))
    from dataclasses import replace

    return replace(pred, groups={g: pred.groups[g] for g in group_cols})


def _read_sources(sources: list[Path], group_cols, streaming: bool) -> tuple[Predictions | None, str]:
    """The predictions of the expanded ``sources`` (None when streaming: they are read later, chunk by
    chunk) and the default run name."""
    from audit.sources import load_predictions, load_shards

    if len(sources) == 1:
        pred = None if streaming else load_predictions(sources[0], group_cols=group_cols)
        return pred, sources[0].stem
    pred = None if streaming else load_shards(sources, group_cols=group_cols)
    return pred, sources[0].parent.name or "shards"


def _calibration(calibration, class_names, *, first_source: Path | None = None,
                 group_cols=()) -> tuple[Predictions | None, str | None]:
    """The calibration predictions and their description, checked to have the audit set's classes
    (``class_names`` None: read them from ``first_source``, a streamed audit's first shard)."""
    if calibration is None:
        return None, None
    if isinstance(calibration, Predictions):
        cal, where, described = calibration, None, "calibration set (in memory)"
    else:
        from audit.sources import load_predictions

        cal = load_predictions(calibration, group_cols=())
        where, described = calibration, f"calibration set {calibration}"
    if class_names is None:
        from audit.engine.distributed import peek_layout

        class_names = peek_layout(first_source, group_cols=group_cols)[0]
    if tuple(cal.class_names) != tuple(class_names):
        raise AuditError(MSG_CAL_CLASSES.format(found=list(cal.class_names), expected=list(class_names)),
                         path=where)
    return cal, described


@dataclass
class _StoredBaseline:
    """A run read back from the history database, to compare against."""

    source: str
    result: dict


def _names_a_stored_run(baseline: str) -> bool:
    from audit.history.hooks import is_history_ref

    return is_history_ref(baseline)


def _is_predictions_path(baseline) -> bool:
    if not isinstance(baseline, (str, Path)):
        return False
    path = Path(baseline)
    return path.is_dir() or path.suffix.lower() in PREDICTION_SUFFIXES


def compare_baseline(data: dict, baseline, current_pred: Predictions | None) -> dict:
    """The ``baseline`` section: ``data`` compared with ``baseline`` (a stored run, an audit.json path,
    mapping or result, or predictions as a path or in memory). Files are read here; the gate compares
    parsed data (:mod:`audit.gate.baseline`)."""
    from audit.gate.baseline import MSG_NEEDS_CURRENT, compare_audit_json, compare_predictions
    from audit.result.load import validate_result

    if isinstance(baseline, _StoredBaseline):
        return compare_audit_json(data, baseline.result, source=baseline.source)
    if isinstance(baseline, AuditResult):
        baseline = baseline.to_dict()
    if isinstance(baseline, Mapping):
        source = "baseline result (in memory)"
        return compare_audit_json(data, validate_result(dict(baseline), source=source), source=source)
    if isinstance(baseline, Predictions):
        if current_pred is None:
            raise AuditError(MSG_NEEDS_CURRENT)
        return compare_predictions(current_pred, baseline, source="baseline predictions (in memory)")
    path = Path(baseline)
    if _looks_like_json(path):
        from audit.result.load import load_audit_json

        return compare_audit_json(data, load_audit_json(path), source=str(path))
    if current_pred is None:
        raise AuditError(MSG_NEEDS_CURRENT, path=path)
    from audit.sources import load_predictions

    previous = load_predictions(path, class_names=current_pred.class_names)
    return compare_predictions(current_pred, previous, source=str(path))


def _looks_like_json(path: Path) -> bool:
    """True for a file whose first non-blank byte is ``{`` (an audit.json), whatever its name."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except (FileNotFoundError, IsADirectoryError):
        return False  # a glob pattern or a folder of .npy files: load_predictions reports what is wrong
    except OSError as exc:
        raise AuditError(f"cannot read the baseline: {exc.strerror or exc}", path=path) from None
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
