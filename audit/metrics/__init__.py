"""Pure metric functions and mergeable accumulators (numpy only: no TensorFlow, no I/O)."""

from audit.metrics.calibration import (
    CalibrationAccumulator,
    adaptive_ece,
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
)
from audit.metrics.classification import overall_metrics, per_class_metrics
from audit.metrics.confusion import ConfusionAccumulator, confusion_counts, top_confusions, top_label
from audit.metrics.disparity import GroupCellAccumulator, disparity_entry
from audit.metrics.intervals import wilson_interval
from audit.metrics.temperature import apply_temperature, cross_fit_temperature, fit_temperature

__all__ = [
    "CalibrationAccumulator",
    "ConfusionAccumulator",
    "GroupCellAccumulator",
    "adaptive_ece",
    "apply_temperature",
    "brier_score",
    "confusion_counts",
    "cross_fit_temperature",
    "disparity_entry",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "overall_metrics",
    "per_class_metrics",
    "top_confusions",
    "top_label",
    "wilson_interval",
]
