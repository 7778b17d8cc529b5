"""Rewrite tests/golden/expected/ from the current code: run it when an output is MEANT to change, and
review the diff (``git diff tests/golden/expected``) as part of that change.

    .venv/bin/python tests/golden/regen.py
"""

import shutil
import sys
import tempfile
from pathlib import Path

# a script, not a test: the checkout first (tests/audit would otherwise shadow the audit package), then
# tests/ for the helpers
sys.path[:0] = [str(Path(__file__).resolve().parents[2])]
sys.path.append(str(Path(__file__).resolve().parents[1]))

from helpers.golden import EXPECTED, run_scenarios  # noqa: E402

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        files = run_scenarios(Path(tmp))
    shutil.rmtree(EXPECTED, ignore_errors=True)
    for key, data in files.items():
        target = EXPECTED / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(files)} files under {EXPECTED}")
