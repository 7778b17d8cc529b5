"""Robustness under corruption: CIFAR-10-C corruptions of a batch of images, and the audit of a model on them."""

from audit.robustness.corruptions import CORRUPTIONS, PARAMS, SEVERITIES, corrupt

__all__ = ["CORRUPTIONS", "PARAMS", "SEVERITIES", "corrupt"]
