"""The 用印登记 page (pytest-qt, offscreen): filters, chain status, opening the signed file."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from helpers.register import make_use  # noqa: E402

from zhenglian.register import Register  # noqa: E402


@pytest.fixture
def zh_ui(qapp):
    from zhenglian.ui import i18n

    i18n.install_translator(qapp, "zh_CN")
    yield
    i18n.install_translator(qapp, "zh_CN")


def _view(qtbot, path: Path):
    from zhenglian.ui.register_view import RegisterView

    view = RegisterView(path)
    qtbot.addWidget(view)
    view.resize(1100, 620)
    with qtbot.waitSignal(view.loaded, timeout=30000), qtbot.waitSignal(view.verified, timeout=30000):
        view.show()  # showing the page loads it and checks the chain
    return view


def _reload(qtbot, view) -> None:
    with qtbot.waitSignal(view.loaded, timeout=30000):
        view.reload()


def test_page_lists_entries_and_filters_them(qtbot, filled_register: Path, zh_ui) -> None:
    view = _view(qtbot, filled_register)
    assert view.table.rowCount() == 30
    assert "登记完整" in view.chain.text()
    assert view.table.item(0, 2).text() == "已签署"  # outcome translated
    view.table.selectRow(0)
    detail = view.detail.text()
    assert view.entries[0].hash in detail and view.entries[0].use.output_sha256 in detail
    assert "第 2 页 (120, 200.5) mm" in detail and "统一社会信用代码" in detail
    view.outcome.setCurrentIndex(view.outcome.findData("refused"))
    _reload(qtbot, view)
    assert view.table.rowCount() == 5 and all(e.use.outcome == "refused" for e in view.entries)
    view.key.setCurrentIndex(view.key.findData("GDCA-0002"))
    _reload(qtbot, view)
    assert view.entries and all(e.use.key_serial == "GDCA-0002" and e.use.outcome == "refused"
                                for e in view.entries)
    view.outcome.setCurrentIndex(0)
    view.key.setCurrentIndex(0)
    view.seal.setCurrentIndex(view.seal.findData("东莞示例有限公司"))
    _reload(qtbot, view)
    assert view.table.rowCount() == 15
    view.seal.setCurrentIndex(0)
    from PySide6.QtCore import QDate

    view.use_dates.blockSignals(True)
    view.use_dates.setChecked(True)
    view.use_dates.blockSignals(False)
    for edit in (view.since, view.until):
        edit.setEnabled(True)
        edit.blockSignals(True)
        edit.setDate(QDate(2026, 11, 3))
        edit.blockSignals(False)
    _reload(qtbot, view)
    assert view.entries and all(e.use.time_local.startswith("2026-11-03") for e in view.entries)


def test_chain_status_names_the_broken_entry(qtbot, filled_register: Path, zh_ui) -> None:
    conn = sqlite3.connect(filled_register)
    conn.execute("DELETE FROM entries WHERE seq = 8")
    conn.commit()
    conn.close()
    view = _view(qtbot, filled_register)
    assert "第 8 条" in view.chain.text() and "印章管理员" in view.chain.text()
    assert view.table.rowCount() == 29


def test_a_damaged_register_shows_a_message(qtbot, tmp_path: Path, zh_ui) -> None:
    bad = tmp_path / "register.sqlite3"
    bad.write_bytes(b"garbage" * 1000)
    view = _view(qtbot, bad)
    assert "已损坏" in view.chain.text() and view.table.rowCount() == 0


def test_open_signed_file_only_while_it_is_the_signed_file(qtbot, register_path: Path, tmp_path: Path,
                                                           monkeypatch, zh_ui) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QDesktopServices

    signed = tmp_path / "合同-已签.pdf"
    signed.write_bytes(b"%PDF-1.7 signed\n")
    use = make_use(0, output_path=str(signed))
    use = dataclasses.replace(use, output_sha256=hashlib.sha256(signed.read_bytes()).hexdigest())
    with Register.open(register_path) as reg:
        reg.record(use)
        reg.record(make_use(3))  # refused: nothing to open
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    view = _view(qtbot, register_path)
    view.table.selectRow(1)
    assert not view.open_btn.isEnabled()
    view.table.selectRow(0)
    assert view.open_btn.isEnabled()
    qtbot.mouseClick(view.open_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: opened == [str(signed)], timeout=30000)
    signed.write_bytes(b"%PDF-1.7 changed\n")
    view.open_selected()
    qtbot.waitUntil(lambda: "已不是当初签署的文件" in view.note.text(), timeout=30000)
    assert opened == [str(signed)]
    os.unlink(signed)
    view.table.clearSelection()
    view.table.selectRow(0)
    assert not view.open_btn.isEnabled()


def test_register_is_a_page_of_the_main_window(qtbot, zh_ui) -> None:
    from zhenglian.ui.mainwindow import MainWindow
    from zhenglian.ui.register_view import RegisterView

    window = MainWindow()
    qtbot.addWidget(window)
    window.add_page("register", RegisterView(Path(os.environ["ZHENGLIAN_HOME"]) / "ui-test.sqlite3"))
    assert window.nav.item(0).text() == "用印登记"


def test_screenshot(qtbot, filled_register: Path, zh_ui) -> None:
    """Saved for a person to look at (docs/images/app-register.png when ZHENGLIAN_SCREENSHOTS is set)."""
    view = _view(qtbot, filled_register)
    view.table.selectRow(0)
    view.layout().activate()  # lay out the texts just set before taking the picture
    target = Path(os.environ.get("ZHENGLIAN_SHOTS") or os.environ.get("ZHENGLIAN_SCREENSHOTS")
                  or filled_register.parent) / "app-register.png"  # ZHENGLIAN_SHOTS: as shoot()
    assert view.grab().save(str(target))
    assert target.stat().st_size > 10_000


def test_anchoring_is_a_setting(qtbot, tmp_path: Path, monkeypatch, zh_ui) -> None:
    from zhenglian import paths
    from zhenglian.config import Settings
    from zhenglian.ui.settings_dialog import SettingsDialog

    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path))
    s = Settings.load()
    assert s.register_anchor is False  # off unless the institution wants it
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert "用印登记" in dlg.register_anchor.text()
    dlg.register_anchor.setChecked(True)
    dlg.accept()
    assert Settings.load(paths.settings_file()).register_anchor is True


def test_export_writes_the_entries_shown(qtbot, filled_register: Path, tmp_path: Path, zh_ui) -> None:
    view = _view(qtbot, filled_register)
    view.outcome.setCurrentIndex(view.outcome.findData("signed"))
    _reload(qtbot, view)
    shown = len(view.entries)
    with qtbot.waitSignal(view.exported, timeout=30000) as sig:
        view.export_to(tmp_path / "登记.csv")
    assert sig.args[0] == tmp_path / "登记.csv"
    rows = (tmp_path / "登记.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == shown + 1 and all(",signed," in r for r in rows[1:])
    with qtbot.waitSignal(view.exported, timeout=30000):
        view.export_to(tmp_path / "登记.pdf")
    assert (tmp_path / "登记.pdf").read_bytes().startswith(b"%PDF") and "已保存" in view.note.text()
    with qtbot.waitSignal(view.exported, timeout=30000) as sig:
        view.export_to(filled_register)  # never over the register itself
    assert isinstance(sig.args[0], Exception) and view.export_btn.isEnabled()
