"""Diagnostics page: drivers, keys, USB ids, versions, paths, recent errors; copy for support."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from zhenglian.ui.i18n import pick

RECENT_ERRORS: deque[str] = deque(maxlen=50)


def record_error(text: str) -> None:
    """Remember an error message shown to the user (never a PIN: messages are typed)."""
    RECENT_ERRORS.append(text)


def render(report: dict[str, Any]) -> str:
    lines = [f"zhenglian {report['version']} — {report['os']}, Python {report['python']}"]
    lines += [f"  {k} {v or '-'}" for k, v in report["packages"].items()]
    lines.append("")
    lines.append("Drivers:")
    for d in report["drivers"]:
        state = "found" if d["found"] else "missing"
        lines.append(f"  {d['name_zh']} ({d['name_en']}, {d['kind']}): {state}; keys {d['keys']}")
        for c in d["modules"]:
            if c["present"]:
                err = f" — {c['error']['message_en']}" if c["error"] else ""
                lines.append(f"    {c['path']} {'loaded' if c['loaded'] else 'not loaded'}{err}")
    for u in report["user_modules"]:
        err = f" — {u['error']['message_en']}" if u["error"] else ""
        lines.append(f"  user module {u['path']}: {'loaded' if u['loaded'] else 'failed'}{err}")
    for e in report["manifest_errors"]:
        lines.append(f"  manifest error: {e['message_en']}")
    lines.append("")
    lines.append("Keys:")
    lines += [f"  {k['ca']} {k['label']} {k['serial']} {k['organization'] or ''} PIN {k['pin_state']}"
              for k in report["keys"]] or ["  none"]
    lines.append(f"USB devices: {', '.join(report['usb_devices']) or 'none'}")
    lines += [f"  {u['message_en']}" for u in report["usb_without_driver"]]
    lines.append("")
    lines.append("Paths:")
    lines += [f"  {k}: {v}" for k, v in report["paths"].items()]
    lines.append("")
    lines.append("Recent errors:")
    lines += [f"  {e}" for e in RECENT_ERRORS] or ["  none"]
    return "\n".join(lines)


class DiagnosticsView(QWidget):
    refreshRequested = Signal()

    def __init__(self) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(self.tr("What the support desk needs to know. Contains no PIN and no document.")))
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setStyleSheet("font-family: monospace")
        lay.addWidget(self.text, 1)
        row = QHBoxLayout()
        refresh = QPushButton(self.tr("Refresh"))
        refresh.clicked.connect(self.refreshRequested.emit)
        copy = QPushButton(self.tr("Copy for support"))
        copy.setObjectName("copy_support")
        copy.clicked.connect(self.copy)
        row.addWidget(refresh)
        row.addWidget(copy)
        row.addStretch(1)
        lay.addLayout(row)
        self.report: dict[str, Any] = {}

    def set_report(self, report: dict[str, Any]) -> None:
        self.report = report
        self.text.setPlainText(render(report))

    def set_error(self, text: str) -> None:
        self.text.setPlainText(pick("诊断信息收集失败：", "Could not collect diagnostics: ") + text)

    def copy(self) -> None:
        payload = self.text.toPlainText() + "\n\n" + json.dumps(self.report, ensure_ascii=False, indent=1, default=str)
        QGuiApplication.clipboard().setText(payload)
