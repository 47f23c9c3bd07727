"""Python's garbage collector, run on the GUI thread only while the tray app runs.

Automatic collection starts in whatever thread happens to allocate (the key watcher, a
signing worker).  When it frees a Qt object held in a reference cycle there, Qt destroys a
GUI object off its thread and the process can crash (seen once: a segfault inside a
collection on the watcher thread).  While the app runs, automatic collection is off and a
timer on the GUI thread collects by the same generation thresholds (as pyqtgraph's
GarbageCollector does); :meth:`GuiGarbageCollector.stop` gives automatic collection back.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds (on the GUI thread)."""
        l0, l1, l2 = gc.get_count()
        if l0 > self._threshold[0]:
            gc.collect(0)
            if l1 > self._threshold[1]:
                gc.collect(1)
                if l2 > self._threshold[2]:
                    gc.collect(2)

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
