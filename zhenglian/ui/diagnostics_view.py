"""Diagnostics page: drivers, keys, USB ids, versions, paths, recent errors; copy for support."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from zhenglian.ui.i18n import pick

RECENT_ERRORS: deque[str] = deque(maxlen=50)


def record_error(text: str) -> None:
    """Remember an error message shown to the user (never a PIN: messages are typed)."""
    RECENT_ERRORS.append(text)


def render(report: dict[str, Any]) -> str:
    """The report in the UI's language: headings and states translated, facts (versions, paths,
    file names, serials) as they are; each error in the UI's language."""
    from zhenglian.ui import i18n

    def pin(state: str) -> str:
        return {"locked": QCoreApplication.translate("Diagnostics", "locked"),
                "final_try": QCoreApplication.translate("Diagnostics", "one try left"),
                "count_low": QCoreApplication.translate("Diagnostics", "wrong PIN entered before"),
                "to_be_changed": QCoreApplication.translate("Diagnostics", "to be changed"),
                "ok": QCoreApplication.translate("Diagnostics", "normal")}.get(state, state)

    def msg(err: dict[str, Any]) -> str:
        return i18n.pick(err.get("message_zh", ""), err.get("message_en", ""))

    lines = [QCoreApplication.translate("Diagnostics", "zhenglian {v} — {os}, Python {py}").format(v=report["version"], os=report["os"],
                                                            py=report["python"])]
    lines += [f"  {k} {v or '-'}" for k, v in report["packages"].items()]
    lines.append("")
    lines.append(QCoreApplication.translate("Diagnostics", "Drivers:"))
    for d in report["drivers"]:
        state = QCoreApplication.translate("Diagnostics", "found") if d["found"] else QCoreApplication.translate("Diagnostics", "missing")
        name = i18n.pick(d["name_zh"], d["name_en"])
        keys = (QCoreApplication.translate("Diagnostics", "  {name}: {state}; {n} key") if d["keys"] == 1
                else QCoreApplication.translate("Diagnostics", "  {name}: {state}; {n} keys"))
        lines.append(keys.format(name=name, state=state, n=d["keys"]))
        for c in d["modules"]:
            if c["present"]:
                err = f" — {msg(c['error'])}" if c["error"] else ""
                loaded = QCoreApplication.translate("Diagnostics", "loaded") if c["loaded"] else \
                    QCoreApplication.translate("Diagnostics", "not loaded")
                lines.append(f"    {c['path']} {loaded}{err}")
    for u in report["user_modules"]:
        err = f" — {msg(u['error'])}" if u["error"] else ""
        lines.append(QCoreApplication.translate("Diagnostics", "  driver file {path}: {state}").format(
            path=u["path"], state=QCoreApplication.translate("Diagnostics", "loaded") if u["loaded"] else QCoreApplication.translate("Diagnostics", "failed")) + err)
    for e in report["manifest_errors"]:
        lines.append(QCoreApplication.translate("Diagnostics", "  driver description error: {m}").format(m=msg(e)))
    lines.append("")
    lines.append(QCoreApplication.translate("Diagnostics", "Keys:"))
    cas = {d["id"]: i18n.pick(d["name_zh"], d["name_en"]) for d in report["drivers"]}
    lines += [QCoreApplication.translate("Diagnostics", "  {ca} {label} serial {serial} {org} PIN {state}").format(
        ca=cas.get(k["ca"], k["ca"]), label=k["label"], serial=k["serial"], org=k["organization"] or "", state=pin(k["pin_state"]))
        for k in report["keys"]] or [QCoreApplication.translate("Diagnostics", "  none")]
    lines.append(QCoreApplication.translate("Diagnostics", "USB devices: {list}").format(list="、".join(report["usb_devices"]) or QCoreApplication.translate("Diagnostics", "none")))
    lines += [f"  {msg(u)}" for u in report["usb_without_driver"]]
    lines.append("")
    lines.append(QCoreApplication.translate("Diagnostics", "Preset by the installer:"))
    deployment = report.get("deployment") or {}
    setting_names = {"server_url": QCoreApplication.translate("Diagnostics", "signing server"),
                     "timestamp_url": QCoreApplication.translate("Diagnostics", "timestamp server"),
                     "est_url": QCoreApplication.translate("Diagnostics", "renewal server")}
    presets = [f"  {setting_names.get(k, k)}: {v if not isinstance(v, list) else '、'.join(map(str, v))}"
               f"（{deployment.get('sources', {}).get(k, '')}）" for k, v in deployment.get("values", {}).items()]
    lines += presets or [QCoreApplication.translate("Diagnostics", "  none")]
    for problem in deployment.get("problems", []):  # "file: 中文 / English"
        head, _, words = problem.partition(": ")
        zh, _, en = words.partition(" / ")
        lines.append("  ⚠ " + QCoreApplication.translate("Diagnostics", "skipped {file}: {problem}").format(
            file=head, problem=i18n.pick(zh, en or zh)))
    lines.append("")
    lines.append(QCoreApplication.translate("Diagnostics", "Folders:"))
    names = {"data": QCoreApplication.translate("Diagnostics", "data"), "settings": QCoreApplication.translate("Diagnostics", "settings"), "logs": QCoreApplication.translate("Diagnostics", "logs"), "drivers": QCoreApplication.translate("Diagnostics", "drivers"),
             "user_drivers": QCoreApplication.translate("Diagnostics", "added drivers"),
             "resources": QCoreApplication.translate("Diagnostics", "resources")}
    lines += [f"  {names.get(k, k)}: {v}" for k, v in report["paths"].items()]
    lines.append("")
    lines.append(QCoreApplication.translate("Diagnostics", "Recent errors:"))
    lines += [f"  {e}" for e in RECENT_ERRORS] or [QCoreApplication.translate("Diagnostics", "  none")]
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
