"""Responsible-AI audit toolkit for image classifiers.

The flow is one direction only: data -> model -> Predictions -> metrics -> AuditResult -> verdict ->
renderers. From Python::

    import audit

    pred = audit.make_predictions(probs=probs, labels=labels, class_names=names, groups={"site": sites})
    result = audit.run_audit(pred, policy="audit-policy.toml")
    result.passed, result.save("reports/try5")

Importing this package is cheap: the names below load on first use, and TensorFlow is only imported by
``audit.model`` code paths.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it (loaded on first access, PEP 562)
_EXPORTS = {
    "run_audit": "audit.pipeline",
    "regate": "audit.gating",
    "PreparedSource": "audit.sources.prepared",
    "model_source": "audit.model.image_audit",
    "make_predictions": "audit.predictions",
    "Predictions": "audit.predictions",
    "AuditResult": "audit.audit_result",
    "RobustnessSettings": "audit.robustness.step",
    "AuditError": "audit.errors",
    "SCHEMA_VERSION": "audit.result.schema",
    "load_policy": "audit.gate.policy",
    "default_policy": "audit.gate.policy",
    "load_checklist": "audit.gate.checklist",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
