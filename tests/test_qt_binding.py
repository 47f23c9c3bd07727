"""The pinned Qt for Python keeps Python's own objects alive.

PySide6 6.12.0 on Python 3.11 dropped one reference to ``None`` at every call of a
Qt method that returns nothing (``QLabel.setText``, ``setVisible`` …).  Python 3.11's
``None`` is not immortal, so after a few thousand such calls — minutes of an
operator's tray — the process aborted ("Fatal Python error: none_dealloc").  The
check runs in a child interpreter, so a binding that crashes fails this test instead
of ending the test session.
"""

from __future__ import annotations

import os
import subprocess
import sys

CALLS = 20_000  # several times None's reference count at start: a leaking binding crashes

_CHILD = f"""
import sys
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
before = sys.getrefcount(None)
for _ in range({CALLS}):
    label.setText("x")
    label.setVisible(False)
print(sys.getrefcount(None) - before)
"""


def test_qt_calls_that_return_nothing_leave_none_alive() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    drift = int(done.stdout.strip().splitlines()[-1])
    assert abs(drift) < 100, f"None's reference count moved by {drift} over {2 * CALLS} calls"
