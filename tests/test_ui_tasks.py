"""The tray app's task path: list → preview → Sign → PIN dialog → server confirms (pytest-qt, real server)."""

from __future__ import annotations

import pytest
from helpers.ui import PinAnswerer, close_app

from zhenglian.config import Settings
from zhenglian.reference.provision import DEMO_KEYS
from zhenglian.services import Context

SZCA = DEMO_KEYS[1]


@pytest.fixture
def app_with_server(qtbot, qapp, demo_keys, reference_server, file_keyring, monkeypatch):  # noqa: F811
    from zhenglian.ui.app import TrayApp

    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 3, kinds=("贷款合同", "委托扣款授权书"),
                                     seal_type="合同专用章")
    monkeypatch.setattr(qapp, "quit", lambda: None)
    settings = Settings.load()
    settings.server_url = reference_server.url
    app = TrayApp(Context.create(settings=settings), qapp)
    qtbot.addWidget(app.window)
    app.window.show_page("tasks")
    app.controller.start()
    qtbot.waitUntil(lambda: any(k.label == SZCA.label for k in app.controller.current_keys()), timeout=20000)
    # The 待签署 page learns the keys a moment later (task board → page): the tests choose from it.
    qtbot.waitUntil(lambda: any(k.label == SZCA.label for k in app.tasks_view.keys), timeout=20000)
    yield app, ids
    close_app(app)


def test_task_list_pin_dialog_sign_and_server_confirms(app_with_server, qtbot, reference_server) -> None:  # noqa: F811
    app, ids = app_with_server
    view = app.tasks_view
    szca = next(i for i, k in enumerate(view.keys) if k.label == SZCA.label)
    view.key_box.setCurrentIndex(szca)
    assert view.workspace is not None and view.workspace.key.label == SZCA.label
    qtbot.waitUntil(lambda: view.workspace.sync.summary.needs_login, timeout=20000)  # the server wants a login

    answer = PinAnswerer(SZCA.user_pin)
    try:
        view.login_btn.click()
        qtbot.waitUntil(lambda: view.table.rowCount() == 3, timeout=30000)
        assert answer.answered == 1
        assert app.controller.state.pending == 3  # the tray's badge
        assert "(3)" in app.tray.actions["tasks"].text()

        view.table.selectRow(0)
        qtbot.waitUntil(lambda: view.preview.view.seal is not None, timeout=30000)
        assert "合同专用章" in view.detail.text()

        view.sign_all_btn.click()
        qtbot.waitUntil(lambda: reference_server.uploads_per_task() == {i: 1 for i in ids}, timeout=60000)
        assert answer.answered == 2  # one PIN for the whole batch
        qtbot.waitUntil(lambda: view.table.rowCount() == 0, timeout=30000)
        assert app.controller.state.pending == 0
    finally:
        answer.stop()
    for task in reference_server.store.tasks(SZCA.uscc):
        assert task.status == "signed"


def test_cancelled_pin_signs_nothing(app_with_server, qtbot, reference_server) -> None:  # noqa: F811
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from zhenglian.ui.pin_dialogs import PinDialog

    app, ids = app_with_server
    view = app.tasks_view
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == SZCA.label))
    answer = PinAnswerer(SZCA.user_pin)
    qtbot.waitUntil(lambda: view.workspace.sync.summary.needs_login, timeout=20000)
    view.login_btn.click()
    qtbot.waitUntil(lambda: view.table.rowCount() == 3, timeout=30000)
    answer.stop()

    cancelled = []

    def cancel_dialog() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, PinDialog) and w.isVisible():
                w.reject()
                cancelled.append(True)

    timer = QTimer()
    timer.timeout.connect(cancel_dialog)
    timer.start(50)
    try:
        view.sign_all_btn.click()
        qtbot.waitUntil(lambda: bool(cancelled) and view.sign_all_btn.isEnabled(), timeout=20000)
    finally:
        timer.stop()
    assert reference_server.uploads_per_task() == {}
    assert all(t.status == "pending" for t in reference_server.store.tasks(SZCA.uscc))


def test_a_task_title_with_markup_is_shown_as_text(app_with_server, qtbot, reference_server) -> None:  # noqa: F811
    from PySide6.QtGui import QTextDocument

    from zhenglian.reference.server import docgen

    hostile = "<img src='http://evil.example/x.png'><a href='http://evil.example'>点这里</a>"
    tpl = docgen.template("贷款合同")
    pdf = docgen.make_pdf(tpl, SZCA.organization, SZCA.uscc, seed=9, font_dir=reference_server.data / "fonts")
    tid = reference_server.store.add_task(SZCA.uscc, hostile, "公积金贷款", pdf, "a.pdf", "合同专用章",
                                          dict(tpl.placement))
    app, _ = app_with_server
    view = app.tasks_view
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == SZCA.label))
    qtbot.waitUntil(lambda: view.workspace.sync.summary.needs_login, timeout=20000)
    answer = PinAnswerer(SZCA.user_pin)
    try:
        view.login_btn.click()
        qtbot.waitUntil(lambda: view.table.rowCount() == 4, timeout=30000)
    finally:
        answer.stop()
    row = next(r for r in range(view.table.rowCount()) if view.table.item(r, 0).text() == hostile)
    view.table.selectRow(row)
    qtbot.waitUntil(lambda: getattr(view, "current_preview", None) is not None and view.current_preview.task.id == tid, timeout=30000)
    doc = QTextDocument()
    doc.setHtml(view.detail.text())
    assert doc.toPlainText().startswith(hostile)  # the title as its characters: no picture, no link
    assert "<img" not in view.detail.text()
