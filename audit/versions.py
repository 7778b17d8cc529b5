"""The library versions recorded in provenance: one list, used by every audit (CLI or Python) and by
``audit train``'s manifest, so the same run records the same versions whichever way it was started."""

from __future__ import annotations

import platform
from importlib import metadata

from audit import __version__

#: Distributions whose versions can change an audit's numbers or its report (by distribution name;
#: "audit" is this tool, from ``audit.__version__``). Their order is the order of the report's table.
AUDIT_LIBRARIES = ("numpy", "scipy", "scikit-learn", "fairlearn", "pandas", "pillow", "audit", "jinja2")
#: Added where TensorFlow ran (training, or a model in the loop).
MODEL_LIBRARIES = ("tensorflow", "keras")


def library_versions(*, with_tf: bool = False) -> dict[str, str | None]:
    """``{"python": …, "audit": …, <distribution>: version or None}`` of :data:`AUDIT_LIBRARIES`, and of
    :data:`MODEL_LIBRARIES` with ``with_tf``. Reads installed metadata only: nothing is imported."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in AUDIT_LIBRARIES + (MODEL_LIBRARIES if with_tf else ()):
        if name == "audit":
            out[name] = __version__
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
