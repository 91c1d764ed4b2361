"""mypy as a ratchet: the number of type errors in ``ndsim/`` may only fall.

``.ci/mypy_errors`` holds the count at the last change. More errors fail the
suite; fewer fail it too, with the number to write into the file, so the
recorded count follows every improvement and cannot creep back up.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_error_count_only_falls(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else res.stderr
    assert res.returncode in (0, 1), summary  # 2: mypy itself failed (bad config, crash)
    m = re.match(r"Found (\d+) errors? in", summary)
    found = int(m.group(1)) if m else 0
    assert m or summary.startswith("Success"), summary
    recorded = int((ROOT / ".ci" / "mypy_errors").read_text().split()[0])
    assert found <= recorded, (
        f"mypy finds {found} errors, more than the {recorded} recorded:\n" + res.stdout[-3000:]
    )
    assert found == recorded, f"mypy finds {found} errors: write {found} into .ci/mypy_errors"
