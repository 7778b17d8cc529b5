"""Responsible-AI audit toolkit for image classifiers.

The flow is one direction only: data -> model -> Predictions -> metrics -> AuditResult -> verdict ->
renderers. Importing this package is cheap: TensorFlow is only imported by ``model`` code paths.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
