"""Heavy imports prefetched in a thread: the module is really imported, a failed import is raised again where
it is used, and an audit's numbers do not depend on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from audit import prefetch


def test_prefetch_imports_the_module_and_wait_joins():
    code = ("import sys\nfrom audit import prefetch\nprefetch.prefetch('colorsys')\nprefetch.wait('colorsys')\n"
            "assert 'colorsys' in sys.modules\nprefetch.prefetch('colorsys')  # once only\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_failed_prefetch_is_raised_by_the_import_that_follows():
    prefetch.prefetch("audit_no_such_module_xyz")
    prefetch.wait("audit_no_such_module_xyz")
    with pytest.raises(ModuleNotFoundError):
        import audit_no_such_module_xyz  # noqa: F401


def test_wait_without_a_prefetch_returns():
    prefetch.wait("never.prefetched")


def test_several_modules_in_one_thread_in_order_and_a_failure_does_not_stop_the_rest():
    code = ("import sys\nfrom audit import prefetch\n"
            "prefetch.prefetch('audit_no_such_module_abc', 'colorsys', 'quopri')\n"
            "assert prefetch._started['colorsys'] is prefetch._started['quopri']\n"
            "prefetch.wait('quopri')\nassert 'colorsys' in sys.modules and 'quopri' in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
