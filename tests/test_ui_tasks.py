"""The tray app's task path: list → preview → Sign → PIN dialog → server confirms (pytest-qt, real server)."""

from __future__ import annotations

import pytest
from helpers.ui import PinAnswerer, close_app
from PySide6.QtCore import Qt

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


def _cancel_the_pin_dialog_of_sign_all(view, qtbot) -> str:  # type: ignore[no-untyped-def]
    """Click 全部签署 and cancel the PIN dialog it opens (nothing is signed); what the dialog said."""
    from helpers.ui import visible_texts
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from zhenglian.ui.pin_dialogs import PinDialog

    said: list[str] = []

    def cancel_dialog() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, PinDialog) and w.isVisible():
                said.append("\n".join(visible_texts(w)))
                w.reject()

    timer = QTimer()
    timer.timeout.connect(cancel_dialog)
    timer.start(50)
    try:
        view.sign_all_btn.click()
        qtbot.waitUntil(lambda: bool(said) and view.sign_all_btn.isEnabled(), timeout=20000)
    finally:
        timer.stop()
    return said[0]


def test_cancelled_pin_signs_nothing(app_with_server, qtbot, reference_server) -> None:  # noqa: F811
    app, ids = app_with_server
    view = app.tasks_view
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == SZCA.label))
    answer = PinAnswerer(SZCA.user_pin)
    qtbot.waitUntil(lambda: view.workspace.sync.summary.needs_login, timeout=20000)
    view.login_btn.click()
    qtbot.waitUntil(lambda: view.table.rowCount() == 3, timeout=30000)
    answer.stop()

    _cancel_the_pin_dialog_of_sign_all(view, qtbot)
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


def _log_in(view, qtbot, rows: int) -> None:  # type: ignore[no-untyped-def]
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == SZCA.label))
    qtbot.waitUntil(lambda: view.workspace.sync.summary.needs_login, timeout=20000)
    answer = PinAnswerer(SZCA.user_pin)
    try:
        view.login_btn.click()
        qtbot.waitUntil(lambda: view.table.rowCount() == rows, timeout=30000)
    finally:
        answer.stop()


def test_a_long_listing_shows_the_first_rows_and_counts_the_rest(app_with_server, qtbot, qapp,  # noqa: F811
                                                                  reference_server, shoot) -> None:

    from zhenglian.ui import i18n, tasks_view

    cap = tasks_view.ROW_CAP
    app, _ids = app_with_server  # 3 tasks
    i18n.install_translator(qapp, "en_US")  # the server's texts in English too (the screenshot below)
    reference_server.add_copies(SZCA.uscc, SZCA.organization, cap + 4, first=4)
    total = cap + 7
    view = app.tasks_view
    _log_in(view, qtbot, cap)
    assert len(view.pending) == total  # all of them listed, the table holds the first ROW_CAP
    assert view.more.isVisible()
    assert view.more.text() == (f"Showing the first {cap} of {total} documents. Sign these to see the next ones, "
                                f"or search by title or type. “Sign all” signs all {total} waiting.")
    # Ctrl+A takes the rows shown, no more.
    view.table.selectAll()
    assert len(view.selected()) == cap
    view.table.clearSelection()

    # A search narrows the list: the one asked for, beyond the first rows, no "more" line.
    last = f"#{total}"
    view.search.setText(last)
    assert view.table.rowCount() == 1 and view.table.item(0, 0).text().endswith(last)
    assert not view.more.isVisible()
    view.search.setText("")
    assert view.table.rowCount() == cap and view.more.isVisible()
    app.window.show()
    shoot(app.window, "app-tasks-capped.png")  # the whole window in one language (English: the test's)

    # 全部签署 signs them all: its PIN dialog says how many.
    assert view.sign_all_btn.text() == "Sign all"
    assert f"The PIN seals {total} document(s)" in _cancel_the_pin_dialog_of_sign_all(view, qtbot)
    # With a search, it signs what the search found, shown or not, and says so on the button.
    view.search.setText("#50")  # #50 and #500–#507
    assert view.table.rowCount() == 9 and view.sign_all_btn.text() == "Sign all found (9)"
    shoot(app.window, "app-tasks-search.png")
    assert "The PIN seals 9 document(s)" in _cancel_the_pin_dialog_of_sign_all(view, qtbot)
    view.search.setText("no such document")
    assert view.table.rowCount() == 0 and not view.sign_all_btn.isEnabled()
    view.search.setText("")
    assert view.sign_all_btn.text() == "Sign all" and view.sign_all_btn.isEnabled()
    assert reference_server.uploads_per_task() == {}

    i18n.install_translator(qapp, "zh_CN")  # the default language
    try:
        view.show_tab()  # the page's texts are made when it is filled
        assert view.more.text() == (f"仅显示前 {cap} 个文件，共 {total} 个。签署这些后会显示后面的文件，也可按标题或业务类型"
                                    f"搜索。“全部签署”会签署全部 {total} 个待签署文件。")
    finally:
        i18n.install_translator(qapp, "en_US")


def test_signing_the_rows_shown_brings_up_the_next(app_with_server, qtbot, reference_server,  # noqa: F811
                                                  monkeypatch) -> None:
    from zhenglian.ui import tasks_view

    monkeypatch.setattr(tasks_view, "ROW_CAP", 2)  # a short table: few documents to sign
    app, ids = app_with_server
    ids += reference_server.add_copies(SZCA.uscc, SZCA.organization, 2, first=4)
    view = app.tasks_view
    _log_in(view, qtbot, 2)
    assert view.more.text().startswith("Showing the first 2 of 5 documents.")
    view.search.setText("#")  # every title: more found than shown, and the line says so
    assert view.more.text() == ("Showing the first 2 of the 5 documents found. Sign these to see the next ones, "
                                "or narrow the search. “Sign all found” signs all 5.")
    view.search.setText("")

    answer = PinAnswerer(SZCA.user_pin)
    try:
        view.table.selectAll()
        shown = [t.id for t in view.selected()]
        assert shown == ids[:2]  # the server's order
        view.sign_btn.click()
        qtbot.waitUntil(lambda: reference_server.uploads_per_task() == {i: 1 for i in shown}, timeout=60000)
        assert "The PIN seals 2 document(s)" in answer.seen[0]  # what was shown, and only that
        qtbot.waitUntil(lambda: [view.table.item(r, 0).data(Qt.ItemDataRole.UserRole).id
                                 for r in range(view.table.rowCount())] == ids[2:4], timeout=30000)
        assert view.more.isVisible() and view.more.text().startswith("Showing the first 2 of 3 documents.")

        view.table.selectAll()
        view.sign_btn.click()
        qtbot.waitUntil(lambda: reference_server.uploads_per_task() == {i: 1 for i in ids[:4]}, timeout=60000)
        qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=30000)
        assert view.table.item(0, 0).data(Qt.ItemDataRole.UserRole).id == ids[4]
        assert not view.more.isVisible()  # everything waiting is on screen
    finally:
        answer.stop()
    assert {t.id for t in reference_server.store.tasks(SZCA.uscc) if t.status == "pending"} == {ids[4]}
