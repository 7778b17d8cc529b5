"""Robustness under corruption: CIFAR-10-C corruptions of a batch of images, and the audit of a model on them.

``from audit.robustness import corrupt`` (scipy is imported on first use, not with the package).
"""

from audit.robustness.params import CORRUPTIONS, PARAMS, SEVERITIES

__all__ = ["CORRUPTIONS", "PARAMS", "SEVERITIES", "corrupt"]


def __getattr__(name):
    if name == "corrupt":
        from audit.robustness.corruptions import corrupt

        return corrupt
    raise AttributeError(f"module 'audit.robustness' has no attribute {name!r}")
