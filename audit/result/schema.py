"""The shape of ``audit.json``, declared once.

Every section is a :class:`typing.TypedDict`; :data:`SCHEMA_VERSION` is the version the engine writes and
``audit gate`` / ``--baseline`` read. ``docs/audit-json.md`` documents the same keys, and
``tests/audit/result/test_schema.py`` holds the engine's output, every hand-written test fixture and that
document to this declaration with :func:`conformance_errors`.

Undefined numbers are ``None`` (JSON ``null``), never NaN; intervals are ``[low, high]`` lists.
"""


import types
import typing
from typing import Any, Literal, NotRequired, TypedDict, Union

#: The ``schema_version`` this tool writes (2: ``confusion_cells``; the dense matrices only up to 100 classes;
#: 3: ``provenance.settings`` has one shape, :class:`Settings`: ``images`` always a bool, the image-input
#: description under ``model_input``; the gate records ``selective_policy``).
SCHEMA_VERSION = "3"
#: Every ``schema_version`` it reads (``audit gate``, ``--baseline``): version 1 lacks ``confusion_cells`` and
#: always has the dense matrices, version 2 may hold an object in ``settings.images``; neither the gate nor a
#: baseline reads any of these.
READABLE_VERSIONS = ("1", "2", "3")

Interval = list[float]  # [low, high]


class Tool(TypedDict):
    name: str
    version: str


class Run(TypedDict):
    name: str | None
    model_name: str | None
    source: Literal["model", "predictions"]
    seed: int | None


class Training(TypedDict):
    seed: int | None
    limit: int | None
    hyperparameters: dict[str, Any] | None
    test: dict[str, Any] | None
    mean_seconds_per_epoch: float | None
    n_train: int | None


class ModelInput(TypedDict):
    """How a model on image files was fed (``settings.model_input``; docs/images.md)."""

    input: str  # "HxWxC"
    scaling: str
    scaling_source: str
    outputs: str
    resized: int
    converted: dict[str, int] | str  # {"L->RGB": n, ...} or "none"
    trust_model: bool
    # ONNX models, callables and any model given --model-config:
    framework: NotRequired[str]  # "onnxruntime", "python callable", "keras"
    layout: NotRequired[str]  # "NCHW" or "NHWC"
    input_dtype: NotRequired[str]  # "float32", "float16", "uint8"
    flattened: NotRequired[str]  # a flat (N, features) input (skl2onnx): "each image flattened to 192 values in NHWC order"
    model_config: NotRequired[dict[str, Any]]  # {file, sha256, and the keys the file set}


class Settings(TypedDict):
    """The settings that change numbers or what the report shows, built in one place
    (:func:`audit.result.settings.make_settings`)."""

    seed: int
    n_bootstrap: int
    #: thumbnails of the images are in the report: not --no-images, and the source had images
    images: bool
    group_cols: list[str]
    n_bins: int
    max_mistakes: int
    target_accuracy: float
    streaming: NotRequired[bool]  # streamed and Dask audits only
    chunk_rows: NotRequired[int]  # streamed and Dask audits only
    model_input: NotRequired[ModelInput]  # models on image files only


class PredictedBy(TypedDict):
    """What ``audit predict`` recorded beside a predictions file (its ``.provenance.json``), merged into
    the provenance of an audit of that file."""

    command: str
    tool_version: str
    model_path: str
    provenance_file: str
    images: NotRequired[dict[str, Any]]
    model_input: NotRequired[ModelInput]
    versions: NotRequired[dict[str, str | None]]


class DaskCluster(TypedDict):
    """Where a model audit ran with ``--dask`` (``provenance.dask``): ``local:N`` or the scheduler address."""

    scheduler: str
    workers: int
    threads: int
    partition_batches: int


class Provenance(TypedDict):
    model_sha256: dict[str, str] | str | None
    data_sha256: dict[str, str] | str | None
    predictions_sha256: dict[str, str] | None
    versions: dict[str, str | None]
    settings: Settings
    model_dir: NotRequired[str]
    training: NotRequired[Training]
    model_path: NotRequired[str]  # models on image files only
    images: NotRequired[dict[str, Any]]  # models on image files only: the image set (docs/images.md)
    predicted_by: NotRequired[PredictedBy]  # a predictions file written by `audit predict`
    dask: NotRequired[DaskCluster]  # a model audit run with --dask (docs/scale.md)


class Overall(TypedDict):
    n: int
    n_correct: int
    accuracy: float
    accuracy_ci: Interval
    balanced_accuracy: float | None
    macro_f1: float | None
    mean_confidence: float | None
    roc_auc_macro: NotRequired[float | None]
    roc_auc_weighted: NotRequired[float | None]
    average_precision_macro: NotRequired[float | None]
    average_precision_weighted: NotRequired[float | None]


class PerClass(TypedDict):
    # "class" is a Python keyword: the functional form below adds it (see PerClass below)
    index: int
    support: int
    n_predicted: int
    error_rate: float | None
    error_rate_ci: Interval | None
    precision: float | None
    recall: float | None
    f1: float | None
    mean_confidence: float | None
    roc_auc: NotRequired[float | None]
    roc_auc_ci: NotRequired[Interval | None]
    roc_auc_bound: NotRequired[float | None]
    average_precision: NotRequired[float | None]
    average_precision_ci: NotRequired[Interval | None]
    average_precision_bound: NotRequired[float | None]


PerClass = TypedDict("PerClass", {"class": str, **PerClass.__annotations__})  # type: ignore[misc]


class TopConfusion(TypedDict):
    true: str
    predicted: str
    count: int
    rate: float


class CalibrationBin(TypedDict):
    lo: float
    hi: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


class TemperatureFit(TypedDict):
    method: str
    source: str | None
    n: int | None
    fold_temperatures: NotRequired[list[float]]


class AfterScaling(TypedDict):
    ece: float | None
    ece_ci: Interval | None
    mce: float | None
    classwise_ece: float | None
    adaptive_ece: float | None
    brier: float | None
    nll: float | None
    bins: list[CalibrationBin]


class Calibration(TypedDict):
    n_bins: int
    binning: str
    ece: float | None
    ece_ci: Interval | None
    mce: float | None
    classwise_ece: float | None
    adaptive_ece: float | None
    adaptive_binning: str
    brier: float | None
    nll: float | None
    nll_clip: float
    bins: list[CalibrationBin]
    temperature: float | None
    temperature_fit: TemperatureFit | None
    after_scaling: AfterScaling | None


class GroupAccuracy(TypedDict):
    group: str
    n: int
    n_correct: NotRequired[int]  # schema 2
    accuracy: float | None
    accuracy_ci: Interval | None


ClassGap = TypedDict("ClassGap", {"class": str, "tpr_difference": Union[float, None],
                                  "fpr_difference": Union[float, None]})


class Disparity(TypedDict):
    name: str
    kind: Literal["group column", "image property"]
    proxy: bool
    note: str
    metric: Literal["accuracy"]
    groups: list[GroupAccuracy]
    overall: float | None
    difference: float | None
    ratio: float | None
    difference_to_overall: float | None
    ratio_to_overall: float | None
    undefined_reason: NotRequired[str | None]  # schema 2: why difference and ratio are null
    worst_group: str | None
    best_group: str | None
    per_class_gaps: list[ClassGap]
    cut_points: NotRequired[list[float]]


class Mistake(TypedDict):
    index: int
    sample_id: str | None
    true: str
    predicted: str
    confidence: float
    thumbnail: str | None


class ChecklistItem(TypedDict):
    id: str
    category: str
    question: str
    status: Literal["yes", "no", "not applicable", "open"]
    evidence: str | None
    answered_by: str | None
    answered_on: str | None
    links_to: str | None
    reference: str | None


class Checklist(TypedDict):
    items: list[ChecklistItem]
    source: str | None
    n_open: int


class Rule(TypedDict):
    name: str
    value: float | str | None
    threshold: float | str | None
    passed: bool
    skipped: bool
    reason: str


class DisparityPolicy(TypedDict):
    min_group_size: int
    use: Literal["interval", "point"]
    multiplicity: Literal["bonferroni", "none"]
    too_few_groups: Literal["skip", "fail"]


class SelectivePolicy(TypedDict):
    min_group_size: int
    min_group_size_from: Literal["selective", "disparity"]
    use: Literal["point", "ci_lower"]


class ReleasePolicy(TypedDict):
    min_signoffs: int


class Gate(TypedDict):
    policy_source: str | None
    informational: bool
    passed: bool
    rules: list[Rule]
    disparity_policy: NotRequired[DisparityPolicy]  # schema 2: how group sizes were judged
    selective_policy: NotRequired[SelectivePolicy]  # schema 3: the same for the review-load rules
    release_policy: NotRequired[ReleasePolicy]  # [release] min_signoffs, when above 0 (`audit release` reads it)




class McNemar(TypedDict):
    b: int
    c: int
    p_value: float


class BaselineOverall(TypedDict):
    n: int
    accuracy_before: float | None
    accuracy_after: float | None
    delta: float | None
    mcnemar: McNemar | None


BaselineClass = TypedDict("BaselineClass", {"class": str, "recall_before": Union[float, None],
                                            "recall_after": Union[float, None], "delta": Union[float, None],
                                            "mcnemar": Union[McNemar, None]})


class Baseline(TypedDict):
    source: str
    kind: Literal["audit.json", "predictions"]
    overall: BaselineOverall
    per_class: list[BaselineClass]


class RocCurve(TypedDict):
    fpr: list[float]
    tpr: list[float]


class PrCurve(TypedDict):
    recall: list[float]
    precision: list[float]


class RiskCoverageCurve(TypedDict):
    coverage: list[float]
    accuracy: list[float | None]


RankingCurves = TypedDict("RankingCurves", {"class": str, "roc": Union[RocCurve, None],
                                            "pr": Union[PrCurve, None]})


class Ranking(TypedDict):
    curves: list[RankingCurves]


class SelectiveCell(TypedDict):
    n: int
    accuracy: float | None
    accuracy_ci: Interval | None
    coverage: float | None
    coverage_ci: Interval | None
    review_load: float | None
    review_load_ci: Interval | None
    selective_accuracy: float | None
    selective_accuracy_ci: Interval | None


SelectiveClass = TypedDict("SelectiveClass", {"class": str, **SelectiveCell.__annotations__})
SelectiveGroupCell = TypedDict("SelectiveGroupCell", {"group": str, **SelectiveCell.__annotations__})


class SelectiveGrouping(TypedDict):
    name: str
    kind: str
    proxy: bool
    groups: list[SelectiveGroupCell]
    accuracy_gap_full: float | None
    worst_group_full: str | None
    accuracy_gap_at_target: float | None
    worst_group_at_target: str | None
    review_load_gap: float | None
    most_reviewed_group: str | None


class SelectiveBody(TypedDict):
    n: int
    target_accuracy: float
    aurc: float | None
    aurc_optimal: float | None
    eaurc: float | None
    aurc_bound: float | None
    accuracy_full: float | None
    threshold: float | None
    coverage: float | None
    coverage_ci: Interval | None
    review_load: float | None
    review_load_ci: Interval | None
    selective_accuracy: float | None
    selective_accuracy_ci: Interval | None
    coverage_upper: float | None
    curve: RiskCoverageCurve
    by_class: list[SelectiveClass]
    by_group: list[SelectiveGrouping]


class Selective(SelectiveBody):
    after_scaling: NotRequired[SelectiveBody | None]


class RobustnessClean(TypedDict):
    n: int
    accuracy: float | None
    accuracy_ci: Interval | None
    ece: float | None
    ece_after_scaling: float | None
    nll: float | None


class RobustnessCell(RobustnessClean):
    corruption: str
    severity: int


class RobustnessSeverity(TypedDict):
    severity: int  # 0 = clean
    accuracy: float | None
    ece: float | None
    ece_after_scaling: float | None
    nll: float | None


class RobustnessCorruption(TypedDict):
    corruption: str
    accuracy: float | None
    ece: float | None
    mild_accuracy: float | None
    mild_relative_drop: float | None


class RobustnessDrop(TypedDict):
    n: int
    clean_accuracy: float | None
    accuracy: float | None
    drop: float | None
    accuracy_by_severity: list[float | None]
    breaks_at: int | None


RobustnessClass = TypedDict("RobustnessClass", {"class": str, **RobustnessDrop.__annotations__})
RobustnessGroup = TypedDict("RobustnessGroup", {"group": str, **RobustnessDrop.__annotations__})


class RobustnessGrouping(TypedDict):
    name: str
    proxy: bool
    groups: list[RobustnessGroup]
    worst_clean_group: str | None
    fastest_falling_group: str | None


class RobustnessSample(TypedDict):
    method: str
    n: int
    of: int


class RobustnessConventions(TypedDict):
    cells: str
    mean_accuracy: str
    drop: str
    mild_relative_drop: str
    breaks_at: str
    corruptions: dict[str, str]
    generation: str


class ExampleRow(TypedDict):
    corruption: str
    images: list[str]


RobustnessExample = TypedDict("RobustnessExample", {"index": int, "sample_id": Union[str, None], "class": str,
                                                    "clean": str, "rows": list[ExampleRow]})


class Robustness(TypedDict):
    source: Literal["generated", "released"]
    data_dir: str | None
    corruptions: list[str]
    severities: list[int]
    seed: int
    n_per_cell: int
    sample: RobustnessSample
    temperature: float | None
    clean: RobustnessClean
    cells: list[RobustnessCell]
    mean_accuracy: float | None
    mean_ece: float | None
    mean_ece_after_scaling: float | None
    by_severity: list[RobustnessSeverity]
    by_corruption: list[RobustnessCorruption]
    per_class: list[RobustnessClass]
    groups: list[RobustnessGrouping]
    conventions: RobustnessConventions
    examples: RobustnessExample | None


ExplanationItem = TypedDict("ExplanationItem", {"index": int, "sample_id": Union[str, None], "class": str,
                                                  "map": list[list[float]], "overlay": Union[str, None],
                                                  "heatmap": Union[str, None]})


class ExplanationSanity(TypedDict):
    randomization_rank_correlation: float | None
    randomized_layers: list[str]
    n_correlated: int
    randomization_note: str | None
    deletion_win_rate: float | None
    deletion_fraction: float
    verdicts: list[str]


class Explanations(TypedDict):
    """Saliency maps of the gallery's images for their predicted class, and their sanity checks."""

    method: Union[Literal["grad-cam", "occlusion"], None]
    layer: str | None  # grad-cam
    score: str | None  # grad-cam: the class score differentiated
    patch: list[int] | None  # occlusion: [height, width]
    stride: list[int] | None
    reason: str | None  # why occlusion (not Grad-CAM), or why there are no maps
    target: str
    seed: int
    items: list[ExplanationItem]
    sanity: ExplanationSanity | None
    conventions: dict[str, str]


class ModelCard(TypedDict):
    fields: dict[str, str | None]
    source: str | None
    empty: list[str]


class FlaggedLabel(TypedDict):
    index: int
    sample_id: Any
    given: str
    suggested: str
    score: float
    thumbnail: NotRequired[str | None]


FlaggedGroup = TypedDict("FlaggedGroup", {"group": str, "n": int, "n_flagged": int, "share_flagged": float})
FlaggedByClass = TypedDict("FlaggedByClass", {"class": str, "n": int, "n_flagged": int,
                                               "share_flagged": float | None})


class LabelQualityMethod(TypedDict):
    library: str
    version: str | None
    filter: str
    ranking: str
    probabilities: str
    suggested: str
    warning_rule: str


class LabelQuality(TypedDict):
    """Suspected label errors (cleanlab); ``computed`` false with ``reason`` when not computed (streamed)."""

    computed: bool
    reason: str | None
    method: LabelQualityMethod
    n: NotRequired[int]
    n_flagged: int | None
    flagged: list[FlaggedLabel]
    share_flagged: float | None
    share_flagged_ci: list[float] | None
    flagged_model_mistakes: NotRequired[float]
    accuracy: float | None
    by_class: list[FlaggedByClass]
    by_group: dict[str, list[FlaggedGroup]]
    warning: str | None


class SliceExample(TypedDict):
    index: int
    sample_id: Any
    thumbnail: NotRequired[str | None]


class SliceDiscovery(TypedDict):
    n: int
    error_rate: float | None
    expected_error: float | None
    excess: float | None


class FoundSlice(TypedDict):
    predicates: dict[str, str]
    discovery: SliceDiscovery
    n: int
    n_errors: int
    error_rate: float | None
    error_rate_ci: list[float | None]
    expected_error: float | None
    excess: float | None
    p_value: float
    confirmed: bool
    examples: list[SliceExample]


class Slices(TypedDict):
    """Discovered weak slices (SliceLine), confirmed on a held-out half."""

    computed: bool
    reason: str | None
    method: str
    features: list[str]
    n: NotRequired[int]
    n_discovery: NotRequired[int]
    discovery_cap: NotRequired[int]
    n_confirmation: NotRequired[int]
    n_tested: int
    alpha: NotRequired[float]
    n_confirmed: NotRequired[int]
    found: list[FoundSlice]


class CrosswalkRow(TypedDict):
    framework: Literal["EU AI Act", "NIST AI RMF 1.0", "ISO/IEC 42001:2023"]
    item: str
    paraphrase: str
    evidence: list[str]  # RFC 6901 pointers into this document
    fields: list[str]  # "model_card.<field>", "checklist.<item id>", "signoff"
    section: str | None  # id of the report section holding the evidence
    status: Literal["evidence", "team", "gap", "out of scope"]
    reason: str


class Crosswalk(TypedDict):
    version: str
    disclaimer: str
    rows: list[CrosswalkRow]


class Signoff(TypedDict):
    by: str
    role: str
    at: str
    statement: str | None
    report_sha256: str


class ReleasedBaseline(TypedDict):
    """Who signed the last released run of this model (read from the history database at audit time)."""

    run_id: int
    released_at: str | None
    report_sha256: str | None
    forced: NotRequired[bool]  # released with --force (a failed gate or missing sign-offs overridden)
    reason: NotRequired[str | None]  # the --force reason stored with it
    signoffs: list[Signoff]


class AuditJSON(TypedDict):
    """The whole of ``audit.json`` (docs/audit-json.md)."""

    schema_version: str
    tool: Tool
    generated_at: NotRequired[str]
    run: Run
    provenance: Provenance
    conventions: dict[str, str]
    class_names: list[str]
    overall: Overall
    per_class: list[PerClass]
    confusion_matrix: list[list[int]] | None  # null above 100 classes (schema 2)
    confusion_matrix_normalized: list[list[float | None] | None] | None
    confusion_cells: NotRequired[list[list[int]]]  # schema 2: [true, predicted, count] of non-zero cells
    top_confusions: list[TopConfusion]
    calibration: Calibration
    disparity: list[Disparity]
    mistakes: list[Mistake]
    ranking: NotRequired[Ranking]
    selective: NotRequired[Selective | None]
    robustness: NotRequired[Robustness]  # model audits with corruptions only
    label_quality: NotRequired[LabelQuality]  # issue 23: suspected label errors
    slices: NotRequired[Slices]  # issue 23: discovered weak slices
    explanations: NotRequired[Explanations]  # optional section, no schema bump: older files lack it
    checklist: Checklist | None
    model_card: NotRequired[ModelCard]  # schema 2
    gate: Gate
    baseline: Baseline | None
    released_baseline: NotRequired[ReleasedBaseline]  # with a history holding a released run of the model
    crosswalk: NotRequired[Crosswalk]  # optional section, no schema bump: older files lack it


class GateRecord(Gate):
    """``gate.json``, written by ``audit gate``: the verdict and what it was computed from."""

    audit_json: str
    checklist_source: str | None


# --------------------------------------------------------------------------------------------------
# Conformance


def conformance_errors(value: Any, declared: Any = AuditJSON, path: str = "") -> list[str]:
    """Where ``value`` departs from the ``declared`` type: one ``"<key path>: <problem>"`` per departure.

    TypedDicts must have every required key and no other; ``X | None`` admits ``None``; ``float`` admits
    ``int`` (JSON writes 0.0 as 0.0 but a hand-written fixture may not); ``Literal`` checks the value.
    """
    where = path or "audit.json"
    origin = typing.get_origin(declared)
    if declared is Any:
        return []
    if origin in (Union, types.UnionType):
        options = typing.get_args(declared)
        attempts = [conformance_errors(value, option, path) for option in options]
        if any(not errors for errors in attempts):
            return []
        return min(attempts, key=len)
    if origin is Literal:
        return [] if value in typing.get_args(declared) else [f"{where}: {value!r} is not one of "
                                                               f"{list(typing.get_args(declared))}"]
    if declared is type(None):
        return [] if value is None else [f"{where}: expected null, got {type(value).__name__}"]
    if typing.is_typeddict(declared):
        if not isinstance(value, dict):
            return [f"{where}: expected an object ({declared.__name__}), got {type(value).__name__}"]
        hints = typing.get_type_hints(declared)
        errors = [f"{where}: missing key {key!r}" for key in sorted(declared.__required_keys__ - value.keys())]
        errors += [f"{where}: undeclared key {key!r}" for key in sorted(value.keys() - hints.keys())]
        for key in sorted(value.keys() & hints.keys()):
            errors += conformance_errors(value[key], hints[key], f"{path}.{key}" if path else key)
        return errors
    if origin is list:
        (item,) = typing.get_args(declared)
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        errors = []
        for i, element in enumerate(value):
            errors += conformance_errors(element, item, f"{path}[{i}]")
        return errors
    if origin is dict:
        _, item = typing.get_args(declared)
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return [f"{where}: expected an object with string keys, got {type(value).__name__}"]
        errors = []
        for key, element in value.items():
            errors += conformance_errors(element, item, f"{path}.{key}")
        return errors
    if declared is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {type(value).__name__}"]
    if declared is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {type(value).__name__}"]
    if isinstance(declared, type):
        return [] if isinstance(value, declared) else [f"{where}: expected {declared.__name__}, "
                                                        f"got {type(value).__name__}"]
    raise TypeError(f"conformance_errors cannot check the declared type {declared!r}")


def section_keys(declared: Any = AuditJSON) -> dict[str, set[str]]:
    """``{"<section path>": {its declared keys}}`` for every TypedDict reachable from ``declared``
    (list items as ``path[]``), the top level as ``""``: what docs/audit-json.md must name."""
    out: dict[str, set[str]] = {}

    def walk(tp: Any, path: str) -> None:
        origin = typing.get_origin(tp)
        if origin in (Union, types.UnionType):
            for option in typing.get_args(tp):
                walk(option, path)
        elif origin is list:
            walk(typing.get_args(tp)[0], path + "[]")
        elif typing.is_typeddict(tp):
            hints = typing.get_type_hints(tp)
            out.setdefault(path, set()).update(hints)
            for key, hint in hints.items():
                walk(hint, f"{path}.{key}" if path else key)

    walk(declared, "")
    return out
