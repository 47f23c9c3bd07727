"""Shared pieces of the tray app's scenario tests (pytest plugin, see conftest.pytest_plugins).

- :class:`PinAnswerer`: types the PIN into each PIN dialog that opens, as an operator would;
- ``journey_app``: the real TrayApp on the real SoftHSM demo keys and the real reference server;
- ``shoot``: saves what the operator sees (``ZHENGLIAN_SHOTS=docs/images`` regenerates the docs' pictures);
- :func:`visible_texts` / :func:`foreign_words`: every text on screen, and the English or code words
  among them in Chinese mode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SHOTS_ENV = "ZHENGLIAN_SHOTS"


class PinAnswerer:
    """Types the PIN into each PIN dialog that opens; remembers what each dialog said."""

    def __init__(self, pin: str) -> None:
        from PySide6.QtCore import QTimer

        self.pin = pin
        self.answered = 0
        self.seen: list[str] = []  # the visible texts of each dialog answered
        self.pictures: list[Any] = []  # and what it looked like (QPixmap)
        self.timer = QTimer()
        self.timer.timeout.connect(self._look)
        self.timer.start(50)

    def _look(self) -> None:
        from PySide6.QtWidgets import QApplication

        from zhenglian.ui.pin_dialogs import PinDialog

        for w in QApplication.topLevelWidgets():
            if isinstance(w, PinDialog) and w.isVisible() and not w.field.text():
                self.seen.append("\n".join(visible_texts(w)))
                self.pictures.append(w.grab())
                w.field.setText(self.pin)
                w.ok_button.click()
                self.answered += 1

    def stop(self) -> None:
        self.timer.stop()


def visible_texts(root: Any) -> list[str]:
    """Every text an operator can read in ``root`` and its visible children."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QGroupBox,
        QLabel,
        QLineEdit,
        QListWidget,
        QPlainTextEdit,
        QTabBar,
        QTableWidget,
        QTextEdit,
        QTreeWidget,
        QWidget,
    )

    out: list[str] = []
    if root.isWindow() and root.windowTitle():
        out.append(root.windowTitle())
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisibleTo(root) and w is not root:
            continue
        if isinstance(w, QLabel):
            out.append(re.sub(r"<[^>]+>", " ", w.text()))
        elif isinstance(w, QAbstractButton):
            out.append(w.text())
        elif isinstance(w, QLineEdit):
            out.extend([w.placeholderText()] + ([w.text()] if w.echoMode() == QLineEdit.EchoMode.Normal else []))
        elif isinstance(w, (QTextEdit, QPlainTextEdit)):
            out.append(w.toPlainText())
        elif isinstance(w, QComboBox):
            out.extend(w.itemText(i) for i in range(w.count()))
        elif isinstance(w, QTabBar):
            out.extend(w.tabText(i) for i in range(w.count()))
        elif isinstance(w, QGroupBox):
            out.append(w.title())
        elif isinstance(w, QTableWidget):
            out.extend(w.horizontalHeaderItem(c).text() for c in range(w.columnCount()) if w.horizontalHeaderItem(c))
            out.extend(w.item(r, c).text() for r in range(w.rowCount()) for c in range(w.columnCount())
                       if w.item(r, c))
        elif isinstance(w, QTreeWidget):
            out.extend(w.headerItem().text(c) for c in range(w.columnCount()))
        elif isinstance(w, QListWidget):
            out.extend(w.item(i).text() for i in range(w.count()))
    return [t for t in (s.strip() for s in out) if t]


# Latin words an operator of this system reads every day: key and file names, units, scheme words.
ALLOWED = {"PIN", "UKey", "USB", "PDF", "CA", "SM2", "SM3", "RSA", "ECC", "EC", "NETCA", "SZCA", "GDCA", "OK",
           "mm", "ID", "URL", "PUK", "SKF", "PKCS", "MB", "KB", "TSA", "http", "https", "localhost",
           # product names on the diagnostics page (what support asks for)
           "Python", "python", "pkcs", "pyhanko", "certvalidator", "asn", "crypto", "cryptography", "PySide",
           "Essentials", "httpx", "keyring", "Linux", "linux", "Windows", "Darwin", "SoftHSM", "softhsm",
           "skfsoft", "sm2token",  # the demo keys' driver names (manifests), as support reads them
           # issuer names as the certificates spell them (data, not the client's words)
           "TrustAUTH", "Generic"}


def foreign_words(texts: list[str]) -> list[str]:
    """English or code words in ``texts`` (Chinese mode): Latin words of 3+ letters not in ALLOWED.

    Addresses (http://…), paths, file names and hexadecimal serials are data, not words."""
    found = []
    for text in texts:
        cleaned = re.sub(r"https?://\S+|\b[\w-]+(?:\.[\w-]+)+\b|\b[0-9a-fA-F]{8,}\b|(?:[A-Za-z]:)?(?:[/\\][\w.-]+){2,}|\b[\w.-]+\.(pdf|toml|so|dll|png|txt|json)\b|\b[0-9A-F]{8,}\b|\b\d+\.\d+\.\d+\b",
                         " ", text)
        for word in re.findall(r"[A-Za-z][A-Za-z_]{2,}", cleaned):
            if word not in ALLOWED and not word.isupper():
                found.append(f"{word!r} in {text!r}")
    return found


class _ModalGuard:
    """Notes every message box that opens; one nobody closes within half a minute is closed, so a
    scenario that did not expect it fails on its own assertion instead of hanging on exec()."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.seen: list[str] = []
        self._since: dict[int, int] = {}
        self.timer = QTimer()
        self.timer.timeout.connect(self._look)
        self.timer.start(200)

    def _look(self) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        for w in QApplication.topLevelWidgets():
            if isinstance(w, QMessageBox) and w.isVisible():
                ticks = self._since.get(id(w), 0) + 1
                self._since[id(w)] = ticks
                if ticks == 1:
                    self.seen.append(w.text())
                    print("message box:", w.text())  # shown with a failing test's output
                if ticks > 150:
                    w.done(0)

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture
def shoot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``shoot(widget, "app-x.png")``: what the operator sees, saved (to $ZHENGLIAN_SHOTS or tmp).

    ``widget`` may also be a PIL image (a rendered seal, a signed page, a form): the docs'
    pictures of documents come from the tests that check them, like the screens."""
    out = Path(os.environ.get(SHOTS_ENV) or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)

    def _shoot(widget: Any, name: str) -> Path:
        path = out / name
        if not hasattr(widget, "grab"):  # a PIL image
            widget.save(path)
            return path
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()
        assert widget.grab().save(str(path)), path
        return path

    _shoot.folder = out  # type: ignore[attr-defined]
    return _shoot


def close_app(app: Any) -> None:
    """End a test's TrayApp: its threads stopped, its window closed.

    qtbot deletes the window after the test while the app object lives on until collected (an
    operator's app never loses its window), so its signals are blocked first: what the watcher,
    the task sync or a reminder worker queued before the stop must not reach it in a later test.
    """
    app.controller.blockSignals(True)
    app.task_board.blockSignals(True)
    app.key_actions.started = False
    app.key_actions.timer.stop()
    app.gc_guard.stop()
    app.task_board.stop()
    app.controller.stop()
    app.window.quitting = True
    app.window.close()


@pytest.fixture
def journey_app(qtbot, qapp, demo_keys, reference_server, file_keyring, monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The tray app (window on 待签署) on the demo keys, the signing server set to the reference server."""
    from zhenglian.config import Settings
    from zhenglian.services import Context
    from zhenglian.ui import i18n
    from zhenglian.ui.app import TrayApp

    i18n.install_translator(qapp, "zh_CN")
    monkeypatch.setattr(qapp, "quit", lambda: None)
    settings = Settings.load()
    settings.server_url = reference_server.url
    app = TrayApp(Context.create(settings=settings), qapp)
    qtbot.addWidget(app.window)
    app.window.resize(1200, 760)
    app.window.show_page("tasks")
    app.controller.start()
    guard = _ModalGuard()
    app.modal_guard = guard
    labels = {k.spec.label for k in demo_keys}
    qtbot.waitUntil(lambda: labels <= {k.label for k in app.task_board.keys}, timeout=20000)
    yield app
    guard.stop()
    close_app(app)
    i18n.install_translator(qapp, "en_US")  # later tests read the English source texts
