"""The distribution installs cleanly beside other projects: named classifier-audit (PyPI's `audit` is
another project), one top-level package `audit`, the model code inside it as `audit.model`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_distribution_is_named_classifier_audit():
    assert metadata.distribution("classifier-audit").entry_points.select(group="console_scripts")["audit"].value \
        == "audit.cli:main"


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package(tmp_path):
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in the environment")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("classifier_audit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"audit"}
    for module in ("audit/model/train.py", "audit/model/source.py", "audit/templates/policy.toml",
                   "audit/templates/report.html.j2", "audit/pipeline.py", "audit/result/schema.py",
                   "audit/py.typed"):  # PEP 561: editors and mypy see the types of the installed package
        assert module in names, module
    # every package of the source tree is in the wheel (a package missing from pyproject's list is not)
    packages = {str(p.parent.relative_to(REPO)) for p in (REPO / "audit").rglob("__init__.py")}
    packages |= {"audit/model/" + str(p.parent.relative_to(REPO / "model")).replace(".", "").strip("/")
                 for p in (REPO / "model").rglob("__init__.py")}
    for package in packages:
        assert f"{package.rstrip('/')}/__init__.py" in names, package
