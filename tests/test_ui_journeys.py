"""The operator's journeys (issue 16), driven through the real widgets on real SoftHSM keys and the
real reference server; each asserts what the operator sees and saves a screenshot."""

from __future__ import annotations

from helpers.ui import PinAnswerer, foreign_words, visible_texts

from zhenglian.reference.provision import DEMO_KEYS

NETCA, SZCA, GDCA = DEMO_KEYS


def _choose_key(app, qtbot, spec) -> None:  # type: ignore[no-untyped-def]
    view = app.tasks_view
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == spec.label))
    assert view.workspace is not None and view.workspace.key.label == spec.label


def _until_login_asked(app, qtbot, label: str) -> None:  # type: ignore[no-untyped-def]
    """The 待签署 page switched to the key ``label``, once its task list asks for 登录."""
    view = app.tasks_view
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == label))
    qtbot.waitUntil(lambda: view.workspace is not None and view.workspace.key.label == label
                    and view.workspace.sync.summary is not None and view.workspace.sync.summary.needs_login,
                    timeout=20000)


def _log_in(app, qtbot, spec, rows: int) -> PinAnswerer:  # type: ignore[no-untyped-def]
    view = app.tasks_view
    _choose_key(app, qtbot, spec)
    qtbot.waitUntil(lambda: view.workspace.sync.summary is not None and view.workspace.sync.summary.needs_login,
                    timeout=20000)
    answer = PinAnswerer(spec.user_pin)
    view.login_btn.click()
    qtbot.waitUntil(lambda: view.table.rowCount() == rows, timeout=30000)
    return answer


# --- the preview is the signed document -----------------------------------------------------------------

def _red_mask(img) -> list[bool]:  # type: ignore[no-untyped-def]
    raw = img.convert("RGB").tobytes()
    return [raw[i] > 150 and raw[i + 1] < 110 and raw[i + 2] < 110 for i in range(0, len(raw), 3)]


def _added_red(after, before) -> set[int]:  # type: ignore[no-untyped-def]
    """Pixels red in ``after`` that were not red in ``before`` (what the seal added)."""
    return {i for i, (a, b) in enumerate(zip(_red_mask(after), _red_mask(before), strict=True)) if a and not b}


def _scene_image(preview):  # type: ignore[no-untyped-def]
    """The preview's page as drawn on screen (page + seal + strips), at the page's own resolution."""
    from PIL import Image
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter

    r = preview.view.page_rect
    img = QImage(int(r.width()), int(r.height()), QImage.Format.Format_RGBA8888)
    img.fill(0xFFFFFFFF)
    p = QPainter(img)
    preview.view.scene().render(p, QRectF(0, 0, r.width(), r.height()), r)
    p.end()
    return Image.frombytes("RGBA", (img.width(), img.height()), bytes(img.constBits())).convert("RGB")


def test_preview_is_what_gets_signed_cross_page_seal(journey_app, qtbot, reference_server, shoot) -> None:  # noqa: F811
    """抵押合同 asks for a 骑缝章 + the main seal on the anchor: the preview draws the strips on every
    page and the seal where the signer puts it; the signed file's pages show the same red pixels."""
    import pypdfium2 as pdfium

    from zhenglian.ui.preview import RENDER_DPI

    app = journey_app
    view = app.tasks_view
    [task_id] = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, kinds=("抵押合同",),
                                           seal_type="合同专用章")
    answer = _log_in(app, qtbot, SZCA, 1)
    try:
        view.table.selectRow(0)
        qtbot.waitUntil(lambda: view.current_preview is not None and view.preview.doc is not None, timeout=30000)
        pv = view.current_preview
        assert pv.problem is None
        pages = len(view.preview.doc)
        assert pages == 2
        assert {s.page for s in pv.spots if s.kind == "strip"} == {1, 2}  # a strip on every page
        assert [s.page for s in pv.spots if s.kind == "seal"] == [2]  # the main seal on the anchor's page
        shown = {}
        for i in range(pages):
            view.preview.thumbs.setCurrentRow(i)
            qtbot.waitUntil(lambda i=i: view.preview.shown_index == i, timeout=30000)
            kinds = sorted(d[0] for d in view.preview.drawn())
            assert kinds == (["seal", "strip"] if i == 1 else ["strip"]), (i, kinds)
            shown[i] = _scene_image(view.preview)
        shoot(app.window, "app-tasks-cross-page.png")
        original = reference_server.store.read_file(reference_server.store.task(task_id).doc_sha256)
        assert pv.document == original

        view.sign_btn.click()
        qtbot.waitUntil(lambda: reference_server.store.task(task_id).status == "signed", timeout=60000)
    finally:
        answer.stop()
    signed = reference_server.store.read_file(reference_server.store.task(task_id).signed_sha256)
    before, after = pdfium.PdfDocument(original), pdfium.PdfDocument(signed)
    after.init_forms()  # the seal is a signature widget's appearance: drawn with the forms
    for i in range(pages):
        blank = before[i].render(scale=RENDER_DPI / 72).to_pil()
        stamped = after[i].render(scale=RENDER_DPI / 72).to_pil()
        assert stamped.size == shown[i].size
        in_file = _added_red(stamped, blank)
        in_preview = _added_red(shown[i], blank)
        assert len(in_file) > 200, i
        overlap = len(in_file & in_preview) / len(in_file | in_preview)
        assert overlap > 0.7, (i, overlap, len(in_file), len(in_preview))


# --- a batch with a failure: the reasons are on screen and stay there ------------------------------------

def test_failed_document_is_named_with_its_reason(journey_app, qtbot, reference_server, shoot) -> None:  # noqa: F811
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = journey_app
    view = app.tasks_view
    good = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, kinds=("委托扣款授权书",))
    bad = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, kinds=("贷款合同",), seed=7,
                                     placement={"anchor_text": "不存在的盖章处", "page": 1})
    bad_title = reference_server.store.task(bad[0]).title
    answer = _log_in(app, qtbot, SZCA, 2)
    labels: list[str] = []
    try:
        view.sign_all_btn.click()
        qtbot.waitUntil(lambda: view.progress_dialog.isVisible() or getattr(view, "result_box", None), timeout=20000)
        qtbot.waitUntil(lambda: (labels.append(view.progress_dialog.labelText()) or True) and
                        getattr(view, "result_box", None) is not None and view.result_box.isVisible(), timeout=60000)
    finally:
        answer.stop()
    box = view.result_box
    # the login PIN dialog said it logs in; the signing one named both documents and their count
    assert "登录签署服务器" in answer.seen[0]
    assert "2 个文件" in answer.seen[1] and bad_title in answer.seen[1] and "输入 PIN 盖章签署" in answer.seen[1]
    assert not foreign_words(answer.seen)
    answer.pictures[0].save(str(shoot.folder / "app-pin-login.png"))
    answer.pictures[1].save(str(shoot.folder / "app-pin-sign.png"))
    assert box.icon() == QMessageBox.Icon.Warning  # not an information icon for a failure
    assert QApplication.activeModalWidget() in (box, None) and box.parent() is app.window
    assert bad_title in box.text() and "找不到文字" in box.text()
    assert "--page" not in box.text() and "--at" not in box.text()
    assert box.text().count("请联系发送方核对该任务") == 1  # what to do next, said once under the list
    assert reference_server.uploads_per_task() == {good[0]: 1}
    # progress named a document every time (never "…，已上传 0：" with nothing after it)
    assert all(not t.rstrip().endswith(("：", ":")) for t in labels if t)
    shoot(box, "app-sign-failed-dialog.png")
    box.accept()
    assert view.tabs.currentIndex() == 2  # 失败
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=30000)
    assert view.table.item(0, 0).text() == bad_title and "找不到文字" in view.table.item(0, 3).text()
    assert view.result.isVisible() and bad_title in view.result.text()  # stays on the page
    assert not foreign_words(visible_texts(app.window))
    shoot(app.window, "app-tasks-failed.png")


# --- logins per key, counts of all keys ----------------------------------------------------------------

def test_switching_keys_keeps_each_login_and_the_tray_counts_all_keys(journey_app, qtbot, reference_server,  # noqa: F811
                                                                      shoot) -> None:
    app = journey_app
    view = app.tasks_view
    reference_server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    reference_server.add_tasks(GDCA.uscc, GDCA.organization, 1, seed=3)
    a = _log_in(app, qtbot, SZCA, 2)
    a.stop()
    b = _log_in(app, qtbot, GDCA, 1)
    b.stop()
    assert a.answered == 1 and b.answered == 1
    qtbot.waitUntil(lambda: app.controller.state.pending == 3, timeout=20000)  # both keys' documents
    assert "(3)" in app.tray.actions["tasks"].text()
    again = PinAnswerer(SZCA.user_pin)
    try:
        _choose_key(app, qtbot, SZCA)
        qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=20000)
        assert not view.login_btn.isVisible()
        assert again.answered == 0  # no second login for the key chosen again
        view.table.selectRow(0)  # the first document, its seal drawn where it will land
        qtbot.waitUntil(lambda: view.current_preview is not None and view.preview.doc is not None
                        and any(d[0] == "seal" for d in view.preview.drawn()), timeout=30000)
        assert "待签署" in "\n".join(visible_texts(app.window)) and view.table.rowCount() == 2
        shoot(app.window, "app-tasks.png")
    finally:
        again.stop()


# --- 已签署: when, open, save -----------------------------------------------------------------------------

def test_signed_tab_shows_when_and_saves_the_signed_file(journey_app, qtbot, reference_server, tmp_path, shoot) -> None:  # noqa: F811
    app = journey_app
    view = app.tasks_view
    [task_id] = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)
    answer = _log_in(app, qtbot, SZCA, 1)
    try:
        view.table.selectRow(0)
        view.sign_btn.click()
        qtbot.waitUntil(lambda: reference_server.store.task(task_id).status == "signed", timeout=60000)
    finally:
        answer.stop()
    qtbot.waitUntil(lambda: view.result.isVisible(), timeout=20000)
    assert "已签署并上传 1" in view.result.text()
    view.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=20000)
    assert view.table.horizontalHeaderItem(3).text() == "签署时间"
    assert view.table.item(0, 3).text()[:2] == "20"  # a date, in local time
    view.table.selectRow(0)
    assert view.save_btn.isVisible() and view.save_btn.isEnabled() and view.open_btn.isEnabled()
    # the preview shows the signed file as it is (its seal drawn by the file), nothing to drag
    qtbot.waitUntil(lambda: "签署时间" in view.detail.text(), timeout=20000)
    assert view.preview.view.seal is None and "拖" not in view.detail.text()
    target = tmp_path / "out" / "signed.pdf"
    target.parent.mkdir()
    view.save_signed_to(target)
    qtbot.waitUntil(target.exists, timeout=20000)
    assert target.read_bytes() == reference_server.store.read_file(reference_server.store.task(task_id).signed_sha256)
    assert not foreign_words(visible_texts(app.window))
    shoot(app.window, "app-tasks-signed.png")


# --- expiry: one days-left count, and a key plugged in later is reminded ------------------------------------

class DialogCatcher:
    """Notes the texts of each dialog of ``kind`` (a class or a tuple) that opens and closes it
    (as an operator pressing Later)."""

    def __init__(self, kind, shoot=None, name: str = "") -> None:  # type: ignore[no-untyped-def]
        from PySide6.QtCore import QTimer

        self.kind = kind
        self.shoot, self.name = shoot, name  # the first one seen is saved as ``name``
        self.seen: list[tuple[str, object]] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._look)
        self.timer.start(50)

    def _look(self) -> None:
        from PySide6.QtWidgets import QApplication

        for w in QApplication.topLevelWidgets():
            if isinstance(w, self.kind) and w.isVisible():
                self.seen.append(("\n".join(visible_texts(w)), w.parent()))
                if self.shoot is not None and len(self.seen) == 1:
                    self.shoot(w, self.name)
                w.reject()

    def stop(self) -> None:
        self.timer.stop()


def test_key_plugged_in_later_is_reminded_with_the_cards_day_count(journey_app, make_key, qtbot, shoot) -> None:
    import re

    from zhenglian.ui.keys_view import KeyCard
    from zhenglian.ui.lifecycle_dialogs import ExpiredDialog, ReminderDialog

    app = journey_app
    app.key_actions.started = True  # as after app.start(): reminders are on
    # Prompts come one after the other; certificates earlier tests left in the remembered list
    # (an expired one shows ExpiredDialog) are answered with Later too, so UI-LATE's gets its turn.
    catcher = DialogCatcher((ReminderDialog, ExpiredDialog))
    try:
        app.controller.stop()  # SoftHSM makes the key while nothing else holds the library
        prov = make_key(label="UI-LATE", days_valid=12)
        app.controller.start()  # ... and the running app finds it: plugged in after start-up
        app.window.show_page("keys")
        qtbot.waitUntil(lambda: any(c.key.label == "UI-LATE" for c in app.keys_view.findChildren(KeyCard)),
                        timeout=20000)
        qtbot.waitUntil(lambda: any(prov.spec.organization in t for t, _p in catcher.seen), timeout=20000)
    finally:
        catcher.stop()
    card = next(c for c in app.keys_view.findChildren(KeyCard) if c.key.label == "UI-LATE")
    card_days = re.search(r"剩余 (\d+) 天", "\n".join(visible_texts(card))).group(1)
    text, parent = next((t, p) for t, p in catcher.seen if prov.spec.organization in t)
    assert re.search(r"(\d+) 天后到期", text).group(1) == card_days  # one count everywhere
    assert parent is app.window
    shoot(card, "app-key-card-expiring.png")


# --- every page in Chinese ----------------------------------------------------------------------------------

def test_every_page_speaks_chinese(journey_app, qtbot, reference_server, shoot, tmp_path) -> None:  # noqa: F811
    """No English or code words on any page in Chinese mode, a signed PDF opened on 签名验证 and the
    diagnostics collected; Qt's own dialogs are Chinese too."""
    from PySide6.QtCore import QCoreApplication

    app = journey_app
    [task_id] = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)
    answer = _log_in(app, qtbot, SZCA, 1)
    try:
        app.tasks_view.table.selectRow(0)
        app.tasks_view.sign_btn.click()
        qtbot.waitUntil(lambda: reference_server.store.task(task_id).status == "signed", timeout=60000)
    finally:
        answer.stop()
    signed = tmp_path / "已签署.pdf"
    signed.write_bytes(reference_server.store.read_file(reference_server.store.task(task_id).signed_sha256))
    app.open_document(signed)
    qtbot.waitUntil(lambda: "正在验证" not in app.documents_view.report.toPlainText(), timeout=30000)
    report = app.documents_view.report.toPlainText()
    assert "东莞市松山湖演示科技有限公司" in report, report
    qtbot.waitUntil(app.documents_view.sign_btn.isEnabled, timeout=30000)  # its pages drawn too
    app.on_action("diagnostics")
    qtbot.waitUntil(lambda: len("\n".join(visible_texts(app.diagnostics_view))) > 200, timeout=30000)
    found = {}
    for page in ("keys", "tasks", "verify", "register", "apps", "diagnostics"):
        app.window.show_page(page)
        found[page] = foreign_words(visible_texts(app.window))
        shoot(app.window, f"app-{page}.png" if page != "tasks" else "app-tasks-after.png")
    assert found == {p: [] for p in found}
    assert QCoreApplication.translate("QFileDialog", "Look in:") == "查找范围："  # Qt's own dialogs


# --- first start, About -------------------------------------------------------------------------------------

def test_first_start_shows_the_window_and_the_tray_hint_once(journey_app, qtbot, shoot) -> None:
    app = journey_app
    notes: list[tuple[str, str]] = []
    app.tray.notify = lambda title, text, warning=False: notes.append((title, text))
    app.ctx.settings._extra.pop("first_run_done", None)
    assert app.first_run() is True
    assert app.window.isVisible() and notes and "托盘" in notes[0][1]
    assert app.first_run() is False and len(notes) == 1  # once


def test_about_names_the_support_contacts(journey_app, shoot) -> None:
    from zhenglian.manifest import load_all

    text = journey_app.about_text()
    hotlines = [h for m in load_all().cas() for h in m.support.hotline]
    assert hotlines and all(h in text for h in hotlines)
    assert "技术支持" in text and not foreign_words([text.replace("<br>", " ").replace("<b>", "").replace("</b>", "")])


# --- NETCA's factory PIN -------------------------------------------------------------------------------------

def test_factory_pin_is_refused_and_the_change_dialog_opens(journey_app, qtbot, reference_server, shoot) -> None:  # noqa: F811
    """NETCA ships 12345678 (drivers/netca.toml [pin] initial): typed to sign, nothing is signed,
    the operator is told why and the change-PIN dialog opens at once on top of the window."""
    from PySide6.QtWidgets import QMessageBox

    from zhenglian.ui.pin_dialogs import ChangePinDialog

    app = journey_app
    assert NETCA.user_pin == "12345678"  # the demo key still has the factory PIN
    [task_id] = reference_server.add_tasks(NETCA.uscc, NETCA.organization, 1)
    view = app.tasks_view
    _choose_key(app, qtbot, NETCA)
    qtbot.waitUntil(lambda: view.workspace.sync.summary is not None and view.workspace.sync.summary.needs_login,
                    timeout=20000)
    answer = PinAnswerer(NETCA.user_pin)
    warnings = DialogCatcher(QMessageBox)
    changes = DialogCatcher(ChangePinDialog)
    try:
        view.login_btn.click()  # the first use of the key: the login
        qtbot.waitUntil(lambda: bool(changes.seen), timeout=30000)
    finally:
        answer.stop()
        warnings.stop()
        changes.stop()
    assert any("出厂初始 PIN" in t for t, _p in warnings.seen)
    assert not any("zhenglian pin change" in t for t, _p in warnings.seen)  # no command line on screen
    text, parent = changes.seen[0]
    assert parent is app.window and "修改" in text
    assert reference_server.uploads_per_task() == {} and reference_server.store.task(task_id).status == "pending"
    assert view.table.rowCount() == 0  # never logged in with it


# --- the lock, shown the moment it happens ---------------------------------------------------------------------

class WrongPinTyper:
    """An operator who keeps typing the same wrong PIN (and confirms the last try)."""

    def __init__(self, wrong: str) -> None:
        self.wrong = wrong

    def keep_pin(self) -> bool:
        return False

    def show_error(self, error) -> None:  # type: ignore[no-untyped-def]
        pass

    def confirm_final_try(self, st) -> bool:  # type: ignore[no-untyped-def]
        return True

    def ask_pin(self, st):  # type: ignore[no-untyped-def]
        from zhenglian.tokens.secret import PinBuffer

        return PinBuffer(self.wrong)

    def locked(self, st, error) -> None:  # type: ignore[no-untyped-def]
        raise error


def test_tenth_wrong_pin_shows_the_lock_at_once(journey_app, make_key, qtbot, reference_server, shoot) -> None:  # noqa: F811
    from zhenglian import errors
    from zhenglian.tokens import pin as pinops
    from zhenglian.ui.keys_view import KeyCard
    from zhenglian.ui.pin_dialogs import FinalTryDialog, LockedDialog

    app = journey_app
    view = app.tasks_view
    app.controller.stop()
    prov = make_key(NETCA, label="UI-LOCK")
    app.controller.start()
    qtbot.waitUntil(lambda: any(k.label == "UI-LOCK" for k in app.task_board.keys), timeout=20000)
    key = next(k for k in app.task_board.keys if k.label == "UI-LOCK")
    wrong = "87654321"
    for _ in range(9):  # nine wrong PINs earlier (another day, another program)
        try:
            pinops.interactive_verify(app.ctx.tokens.handle(key), WrongPinTyper(wrong))
        except errors.WrongPin:
            pass
    _until_login_asked(app, qtbot, "UI-LOCK")
    answer = PinAnswerer(wrong)
    final = DialogCatcher(FinalTryDialog)
    final.timer.timeout.disconnect()
    final.timer.timeout.connect(lambda: [d.confirm_button.click() for d in QApplicationTop(FinalTryDialog)])
    locked = DialogCatcher(LockedDialog)
    try:
        view.login_btn.click()  # the tenth: the last try, confirmed, wrong
        qtbot.waitUntil(lambda: bool(locked.seen), timeout=30000)
    finally:
        answer.stop()
        final.stop()
        locked.stop()
    text, parent = locked.seen[0]
    assert "锁定" in text and parent is app.window
    qtbot.waitUntil(lambda: app.controller.state.kind == "attention"
                    and any(a.kind == "pin_locked" and a.key_serial == prov.serial for a in app.controller.state.attention),
                    timeout=20000)
    app.window.show_page("keys")
    card = next(c for c in app.keys_view.findChildren(KeyCard) if c.key.label == "UI-LOCK")
    texts = "\n".join(visible_texts(card))
    assert "已锁定" in texts and "解锁" in texts  # 已锁定 and the unlock button
    assert view.workspace is None or view.workspace.key.label != "UI-LOCK"  # 待签署 does not stay on it
    shoot(card, "app-key-card-locked.png")


def QApplicationTop(kind):  # type: ignore[no-untyped-def]  # noqa: N802
    from PySide6.QtWidgets import QApplication

    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def test_factory_pin_is_refused_on_the_documents_page(journey_app, qtbot, tmp_path, shoot) -> None:
    """Local signing (验证 → 签署此文档) with the factory PIN: nothing is written, no try is spent, the
    operator is told why and the change-PIN dialog opens for that key."""
    from helpers import pdf as ph
    from PySide6.QtWidgets import QMessageBox

    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens import pincounter
    from zhenglian.ui.pin_dialogs import ChangePinDialog

    app = journey_app
    view = app.documents_view
    key = next(k for k in app.task_board.keys if k.label == NETCA.label)
    app.key_actions.choose_key = lambda keys=None: key  # the operator picks the NETCA key
    src = ph.make_contract(tmp_path / "合同.pdf", 1)
    before = ph.sha256_file(src)
    app.window.show_page("verify")
    view.open(src)
    qtbot.waitUntil(lambda: view.sign_btn.isEnabled(), timeout=30000)
    view.sign_btn.click()
    qtbot.waitUntil(lambda: view.sign_bar.isVisible(), timeout=30000)
    out = tmp_path / "合同-已盖章.pdf"
    assert view.out_field.text() == str(out)  # the suggested name, in the screen's language
    view.out_field.setText(str(out))
    answer = PinAnswerer(NETCA.user_pin)
    warnings = DialogCatcher(QMessageBox, shoot, "app-factory-pin.png")
    changes = DialogCatcher(ChangePinDialog, shoot, "pin-change.png")
    try:
        view.sign_bar.findChild(type(view.sign_btn), "local_sign_go").click()
        qtbot.waitUntil(lambda: bool(changes.seen), timeout=30000)
    finally:
        answer.stop()
        warnings.stop()
        changes.stop()
    assert answer.answered == 1
    assert any("出厂初始 PIN" in t for t, _p in warnings.seen)
    assert not foreign_words([t for t, _p in warnings.seen + changes.seen])
    text, parent = changes.seen[0]
    assert parent is app.window and "修改" in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pdf") == ["合同.pdf"]
    assert ph.sha256_file(src) == before
    st = pinops.status(app.ctx.tokens.handle(key))
    assert pincounter.failures(key.serial) == 0 and not st.flags.count_low  # the key saw no try


# --- 设置 → 签署服务器: preset by the deployment ------------------------------------------------------

def test_first_start_shows_the_preset_server_and_a_user_value_wins(journey_app, qtbot, tmp_path, monkeypatch,
                                                                     shoot) -> None:
    """A fresh install (no user settings) shows the signing server the installer preset (the shipped
    config/defaults.json: the Dongguan provident fund's); the operator's own address wins and is kept."""
    import json

    from PySide6.QtCore import QTimer

    from zhenglian import paths
    from zhenglian.config import Settings
    from zhenglian.ui.settings_dialog import SettingsDialog

    shipped = paths.install_root() / "config" / "defaults.json"
    preset = json.loads(shipped.read_text(encoding="utf-8"))["server_url"]
    assert preset.startswith("https://") and "dggjj.dg.gov.cn" in preset
    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path / "fresh-home"))  # first start: no settings.json
    monkeypatch.setenv("ZHENGLIAN_DEFAULTS", str(shipped))
    app = journey_app
    app.ctx.settings = Settings.load()
    assert not paths.settings_file().exists()
    seen: list[tuple[str, str, list[str]]] = []

    def answer(type_url: str | None) -> None:
        from PySide6.QtWidgets import QApplication

        for w in QApplication.topLevelWidgets():
            if isinstance(w, SettingsDialog) and w.isVisible():
                seen.append((w.server.text(), w.server_note.text(), visible_texts(w)))
                if type_url is None:
                    shoot(w, "app-settings.png")
                    w.reject()
                else:
                    w.server.setText(type_url)
                    seen.append((w.server.text(), w.server_note.text(), visible_texts(w)))
                    w.accept()
                return
        QTimer.singleShot(50, lambda: answer(type_url))

    QTimer.singleShot(0, lambda: answer(None))
    app.open_settings()
    (url, note, texts) = seen[0]
    assert url == preset and "安装程序" in note and "预设" in note
    assert not foreign_words([t for t in texts if t != "English"])  # a language's own name in the list
    mine = "https://sign.example.org/api"
    QTimer.singleShot(0, lambda: answer(mine))
    app.open_settings()
    assert "您自行设置" in seen[-1][1] and preset in seen[-1][1]
    assert Settings.load().server_url == mine  # the user's value wins over the preset
    assert json.loads(paths.settings_file().read_text(encoding="utf-8"))["server_url"] == mine
    app.ctx.settings = Settings.load()
    QTimer.singleShot(0, lambda: answer(preset))  # back to the preset: it follows the deployment again
    app.open_settings()
    assert "server_url" not in json.loads(paths.settings_file().read_text(encoding="utf-8"))
    assert Settings.load().server_url == preset


# --- keys re-read after online renewal and after unlock -------------------------------------------------------

def _card(app, label: str):  # type: ignore[no-untyped-def]
    from zhenglian.ui.keys_view import KeyCard

    app.window.show_page("keys")
    cards = [c for c in app.keys_view.findChildren(KeyCard) if c.key.label == label and c.isVisible()]
    return cards[0] if cards else None


def _card_text(app, label: str) -> str:  # type: ignore[no-untyped-def]
    card = _card(app, label)
    return "\n".join(visible_texts(card)) if card is not None else ""


def _plug_in(app, qtbot, make_key, spec, label: str):  # type: ignore[no-untyped-def]
    app.controller.stop()
    prov = make_key(spec, label=label)
    app.controller.start()
    qtbot.waitUntil(lambda: any(k.label == label for k in app.task_board.keys), timeout=20000)
    return prov, next(k for k in app.task_board.keys if k.label == label)


def test_renewal_shows_the_new_expiry_and_the_next_login_works(journey_app, make_key, qtbot, reference_server,  # noqa: F811
                                                              monkeypatch, shoot) -> None:
    """Online renewal from the card (证书 → 续期, the demo CA's EST service): the card and the banner
    show the NEW expiry at once, and the next 登录 works with the new certificate without a re-plug."""
    from datetime import timedelta

    from PySide6.QtWidgets import QPushButton

    from zhenglian.reference import est as est_server

    app = journey_app
    notes: list[tuple[str, str]] = []
    monkeypatch.setattr(app.tray, "notify", lambda title, text, warning=False: notes.append((title, text)))
    prov, key = _plug_in(app, qtbot, make_key, GDCA, "UI-RENEW")  # GDCA's demo spec: 25 days left
    old = key.signing_certificate().info
    qtbot.waitUntil(lambda: any(a.kind == "cert_expiring" and a.key_serial == prov.serial
                                for a in app.controller.state.attention), timeout=20000)
    qtbot.waitUntil(lambda: f"{old.not_after:%Y-%m-%d}" in _card_text(app, "UI-RENEW"), timeout=20000)
    assert "剩余 " in _card_text(app, "UI-RENEW")
    banner_before = app.window.banner.text().count(old.organization)
    new_until = old.not_after.replace(tzinfo=None) + timedelta(days=365)  # the demo CA adds 365 days
    with est_server.serve(est_server.create_app()) as url:
        app.ctx.settings.est_url = url
        answer = PinAnswerer(GDCA.user_pin)
        try:
            _card(app, "UI-RENEW").findChild(QPushButton, f"btn_renew_{prov.serial}").click()
            qtbot.waitUntil(lambda: any(t == "证书已续期" for t, _ in notes), timeout=60000)
        finally:
            answer.stop()
    assert answer.answered == 1
    # The card: the new validity, read from the key again (no re-plug).
    qtbot.waitUntil(lambda: any(abs((new_until - d).days) <= 1 for d in _dates(_card_text(app, "UI-RENEW"))),
                    timeout=30000)
    assert f"{old.not_after:%Y-%m-%d}" not in _card_text(app, "UI-RENEW")
    # The banner: the key's expiry warning is gone (the other GDCA demo key keeps its own).
    qtbot.waitUntil(lambda: not any(a.key_serial == prov.serial and a.kind.startswith("cert_")
                                    for a in app.controller.state.attention), timeout=20000)
    assert app.window.banner.text().count(old.organization) == banner_before - 1
    shoot(_card(app, "UI-RENEW"), "app-key-card-renewed.png")
    # The next login: the task list of that key, with the new certificate, no re-plug.
    reference_server.add_tasks(GDCA.uscc, GDCA.organization, 1, seed=7)
    view = app.tasks_view
    app.window.show_page("tasks")
    qtbot.waitUntil(lambda: any(k.label == "UI-RENEW" for k in view.keys), timeout=20000)
    _until_login_asked(app, qtbot, "UI-RENEW")
    assert view.workspace.handle.signing_cert.info.not_after != old.not_after  # the new certificate
    login = PinAnswerer(GDCA.user_pin)
    try:
        view.login_btn.click()
        qtbot.waitUntil(lambda: view.table.rowCount() >= 1, timeout=30000)
    finally:
        login.stop()
    assert login.answered == 1


def _dates(text: str) -> list:  # type: ignore[type-arg]
    import re
    from datetime import datetime

    return [datetime.strptime(d, "%Y-%m-%d").replace(tzinfo=None) for d in re.findall(r"\d{4}-\d{2}-\d{2}", text)]


class UnlockAnswerer:
    """Types the SO PIN and a new user PIN (twice) into the unlock dialog, as the CA desk would."""

    def __init__(self, so_pin: str, new_pin: str) -> None:
        from PySide6.QtCore import QTimer

        self.so_pin, self.new_pin = so_pin, new_pin
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._look)
        self.timer.start(50)

    def _look(self) -> None:
        from PySide6.QtWidgets import QApplication

        from zhenglian.ui.pin_dialogs import ChangePinDialog

        for w in QApplication.topLevelWidgets():
            if isinstance(w, ChangePinDialog) and w.isVisible() and not w.old.text():
                self.seen.append("\n".join(visible_texts(w)))
                w.old.setText(self.so_pin)
                w.new.setText(self.new_pin)
                w.repeat.setText(self.new_pin)
                w.ok_button.click()

    def stop(self) -> None:
        self.timer.stop()


def test_unlock_with_the_so_pin_leaves_locked_and_signing_works(journey_app, make_key, qtbot, reference_server,  # noqa: F811
                                                                 monkeypatch, shoot) -> None:
    """A key locked by ten wrong PINs: 用管理员 PIN 解锁 on its card (SO PIN, new PIN twice); the card
    leaves 已锁定 at once, and the new PIN logs in and signs a document."""
    from PySide6.QtWidgets import QPushButton

    from zhenglian import errors
    from zhenglian.tokens import pin as pinops

    app = journey_app
    notes: list[tuple[str, str]] = []
    monkeypatch.setattr(app.tray, "notify", lambda title, text, warning=False: notes.append((title, text)))
    prov, key = _plug_in(app, qtbot, make_key, SZCA, "UI-UNLOCK")
    for _ in range(10):  # ten wrong PINs (the last one confirmed): locked
        try:
            pinops.interactive_verify(app.ctx.tokens.handle(key), WrongPinTyper("Wr0ng#Pin77"))
        except (errors.WrongPin, errors.PinLocked):
            pass
    assert pinops.status(app.ctx.tokens.handle(key)).locked
    app.controller.refresh(key)
    app.controller.recompute()
    qtbot.waitUntil(lambda: "已锁定" in _card_text(app, "UI-UNLOCK"), timeout=20000)
    new_pin = "Unl0ck#2026Zq"
    answer = UnlockAnswerer(prov.spec.so_pin, new_pin)
    try:
        _card(app, "UI-UNLOCK").findChild(QPushButton, f"btn_unlock_{prov.serial}").click()
        qtbot.waitUntil(lambda: any(t == "UKey 已解锁" for t, _ in notes), timeout=30000)
    finally:
        answer.stop()
    assert answer.seen and "管理员 PIN" in answer.seen[0]
    qtbot.waitUntil(lambda: "已锁定" not in _card_text(app, "UI-UNLOCK") and "正常" in _card_text(app, "UI-UNLOCK"),
                    timeout=20000)
    card = _card(app, "UI-UNLOCK")
    assert card.findChild(QPushButton, f"btn_unlock_{prov.serial}") is None  # no unlock button any more
    assert not any(a.key_serial == prov.serial and a.kind == "pin_locked" for a in app.controller.state.attention)
    shoot(card, "app-key-card-unlocked.png")
    # Signing works with the new PIN: log in, sign the one task.
    [task_id] = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, seed=11)
    view = app.tasks_view
    app.window.show_page("tasks")
    qtbot.waitUntil(lambda: any(k.label == "UI-UNLOCK" for k in view.keys), timeout=20000)
    _until_login_asked(app, qtbot, "UI-UNLOCK")
    typed = PinAnswerer(new_pin)
    try:
        view.login_btn.click()
        qtbot.waitUntil(lambda: any(view.table.item(r, 0) is not None for r in range(view.table.rowCount())),
                        timeout=30000)
        for r in range(view.table.rowCount()):
            view.table.selectRow(r)
        view.sign_btn.click()
        qtbot.waitUntil(lambda: reference_server.store.task(task_id).status == "signed", timeout=60000)
    finally:
        typed.stop()
