"""The document preview draws a page only once its expanded size is counted (pdf/rendering):
a Flate bomb, plain or encrypted, shows its error in the preview while the window keeps
running; ordinary documents, encrypted ones too, are drawn as before."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.pdf import textbudget


@pytest.fixture
def preview(qtbot, qapp):  # type: ignore[no-untyped-def]
    from zhenglian.ui.preview import DocumentPreview

    widget = DocumentPreview()
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.clear()  # the pdfium document closed while the test still holds the widget
    _closed_within_the_test(qtbot)


def _closed_within_the_test(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The document closed by ``clear()`` is closed by a worker: wait for it, within this test."""
    from zhenglian.ui import workers

    qtbot.waitUntil(lambda: not workers._live, timeout=60000)


def _refusal(path: Path) -> str:
    from zhenglian.ui import i18n

    return i18n.error_text(errors.DocumentTooComplexToShow(path=str(path), page=2, limit_mb=textbudget.MAX_PAGE_BYTES >> 20))


def test_an_ordinary_document_is_drawn_with_its_thumbnails(preview, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.many_pages(tmp_path / "three.pdf", 3)
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=30000)
    assert preview.problem is None and preview.thumbs.count() == 3 and preview.view.page_item is not None
    assert preview.thumbs.currentRow() == 0 and preview.info.text().startswith(("Page 1 of 3", "第 1 页"))
    preview.thumbs.setCurrentRow(2)  # another page: drawn in a worker, shown when it arrives
    qtbot.waitUntil(lambda: preview.shown_index == 2, timeout=30000)
    assert preview.page_index == 2 and "3" in preview.info.text()


def test_a_bomb_shows_the_budget_message_while_the_window_keeps_running(preview, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                       monkeypatch, shoot) -> None:
    from PySide6.QtCore import QTimer

    src = ph.flate_bomb(tmp_path / "bomb.pdf")
    counting, release = threading.Event(), threading.Event()
    count = textbudget.check_document

    def held(doc):  # type: ignore[no-untyped-def]
        counting.set()
        release.wait(60)
        return count(doc)

    monkeypatch.setattr(textbudget, "check_document", held)
    preview.load(src.read_bytes(), name=str(src))
    assert preview.doc is None and preview.problem is None  # load() returned: the count is not on this thread
    qtbot.waitUntil(counting.is_set, timeout=30000)
    ticked: list[bool] = []
    QTimer.singleShot(0, lambda: ticked.append(True))  # the window's event loop runs while the count does
    qtbot.waitUntil(lambda: bool(ticked), timeout=30000)
    release.set()
    with qtbot.waitSignal(preview.failed, timeout=60000) as failed:
        pass
    assert failed.args == [_refusal(src)] and preview.problem == _refusal(src)
    assert preview.doc is None and preview.thumbs.count() == 0 and preview.view.page_item is None
    shown = [i.toPlainText() for i in preview.view.scene().items() if hasattr(i, "toPlainText")]
    assert shown == [_refusal(src)]  # in the preview area, where the page would be
    preview.resize(900, 520)
    shoot(preview, "preview-too-complex.png")


def test_an_encrypted_bomb_is_refused_and_an_encrypted_document_drawn(preview, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.flate_bomb(tmp_path / "bomb-aes.pdf", user="geheim")
    preview.load(src.read_bytes(), "geheim", name=str(src))
    qtbot.waitUntil(lambda: preview.problem is not None, timeout=60000)
    assert preview.problem == _refusal(src) and preview.doc is None

    ok = tmp_path / "ok-aes.pdf"
    ok.write_bytes(ph.encrypted_copy(ph.many_pages(tmp_path / "ok.pdf", 2).read_bytes(), user="geheim", owner="o"))
    preview.load(ok.read_bytes(), "geheim", name=str(ok))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=30000)
    assert preview.problem is None and preview.thumbs.count() == 2 and preview.view.page_item is not None

    preview.load(ok.read_bytes(), name=str(ok))  # no password: its error, not its pages
    qtbot.waitUntil(lambda: preview.problem is not None, timeout=30000)
    from zhenglian.ui import i18n

    assert preview.problem == i18n.error_text(errors.DocumentEncrypted(path=str(ok))) and preview.doc is None


def test_a_newer_document_replaces_one_still_being_counted(preview, qtbot, tmp_path: Path,
                                                           monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.ui import workers

    bomb = ph.flate_bomb(tmp_path / "bomb.pdf")
    ok = ph.many_pages(tmp_path / "ok.pdf", 2)
    release = threading.Event()
    count = textbudget.check_document

    def bomb_held(doc):  # type: ignore[no-untyped-def]
        if doc.name == str(bomb):
            release.wait(60)
        return count(doc)

    monkeypatch.setattr(textbudget, "check_document", bomb_held)
    preview.load(bomb.read_bytes(), name=str(bomb))
    preview.load(ok.read_bytes(), name=str(ok))  # chosen while the bomb is still being counted
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=30000)
    release.set()
    qtbot.waitUntil(lambda: not workers._live, timeout=60000)  # the bomb's refusal has arrived, and was dropped
    assert preview.problem is None and preview.thumbs.count() == 2 and preview.view.page_item is not None


def _hold_verification(monkeypatch, path: Path) -> tuple[threading.Event, threading.Event]:  # type: ignore[no-untyped-def]
    """The verify page's verification of ``path`` held: (it has started, let it go on)."""
    from zhenglian.pdf import verify

    started, release = threading.Event(), threading.Event()
    real = verify.verify_pdf

    def held(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(source) == path:
            started.set()
            release.wait(60)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(verify, "verify_pdf", held)
    return started, release


def test_the_verify_page_shows_the_document_opened_last(qtbot, qapp, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A document opened while the one before is still being verified: the page shows the later
    one — its report, its pages — and the earlier one's late answer is dropped."""
    from types import SimpleNamespace

    from zhenglian.services import Context
    from zhenglian.ui import workers
    from zhenglian.ui.documents_view import DocumentsView

    first, second = ph.many_pages(tmp_path / "first.pdf", 1), ph.many_pages(tmp_path / "second.pdf", 3)
    held, release = _hold_verification(monkeypatch, first)
    view = DocumentsView(SimpleNamespace(ctx=Context.create()))
    qtbot.addWidget(view)
    view.open(first)
    qtbot.waitUntil(held.is_set, timeout=30000)
    view.open(second)
    qtbot.waitUntil(lambda: view.preview.doc is not None, timeout=30000)
    release.set()
    qtbot.waitUntil(lambda: not workers._live, timeout=30000)  # the first one's answer has come back
    assert view.path == second and view.preview.thumbs.count() == 3 and view.sign_btn.isEnabled()
    view.preview.clear()
    _closed_within_the_test(qtbot)


def test_the_verify_page_offers_signing_once_the_pages_are_drawn(qtbot, qapp, tmp_path: Path, monkeypatch,  # type: ignore[no-untyped-def]
                                                                 shoot) -> None:
    """签署此文档 puts the seal on the last page, which the preview counts: the button waits for the
    pages (they are drawn in a worker after the report), and an earlier document's pages, arriving
    after another was opened, do not enable it.  A seal chosen for a document the operator has
    left meanwhile is not offered on the next one."""
    from types import SimpleNamespace

    from zhenglian.pdf import rendering, sealchoice
    from zhenglian.services import Context
    from zhenglian.ui import workers
    from zhenglian.ui.documents_view import DocumentsView

    first, second = ph.many_pages(tmp_path / "first.pdf", 2), ph.many_pages(tmp_path / "second.pdf", 3)
    drawing = {first: threading.Event(), second: threading.Event()}
    release = {first: threading.Event(), second: threading.Event()}
    real = rendering.open_document

    def held(source, password=None, *, name=None):  # type: ignore[no-untyped-def]
        drawing[Path(name)].set()
        release[Path(name)].wait(60)
        return real(source, password, name=name)

    monkeypatch.setattr(rendering, "open_document", held)
    verifying, verified = _hold_verification(monkeypatch, second)
    view = DocumentsView(SimpleNamespace(ctx=Context.create(), key_actions=SimpleNamespace(choose_key=lambda: "key")))
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    view.open(first)
    qtbot.waitUntil(drawing[first].is_set, timeout=30000)  # its report is shown, its pages are being drawn
    assert not view.sign_btn.isEnabled() and view.preview.thumbs.count() == 0
    view.open(second)
    qtbot.waitUntil(verifying.is_set, timeout=30000)
    release[first].set()  # the first one's pages arrive while the second is being verified
    qtbot.waitUntil(lambda: len(workers._live) == 1, timeout=30000)
    assert not view.sign_btn.isEnabled() and view.preview.doc is None and view.path == second
    verified.set()
    qtbot.waitUntil(drawing[second].is_set, timeout=30000)
    assert not view.sign_btn.isEnabled()
    shoot(view, "verify-drawing-pages.png")
    release[second].set()
    qtbot.waitUntil(view.sign_btn.isEnabled, timeout=30000)
    assert view.preview.thumbs.count() == 3

    seal = SimpleNamespace(png=ph.simple_seal_png(), width_mm=42.0, height_mm=42.0)
    choosing, chosen = threading.Event(), threading.Event()

    def choose(ctx, key, wanted):  # type: ignore[no-untyped-def]
        choosing.set()
        chosen.wait(60)
        return seal

    monkeypatch.setattr(sealchoice, "choose_seal", choose)
    view.prepare_signing()
    qtbot.waitUntil(choosing.is_set, timeout=30000)
    chosen.set()
    qtbot.waitUntil(view.sign_bar.isVisible, timeout=30000)
    assert view.spot == (3, 150.0, 240.0) and view.preview.seal_page == 2  # the last page, as the preview shows

    choosing.clear()
    chosen.clear()
    view.seal = None
    view.sign_bar.hide()
    view.prepare_signing()
    qtbot.waitUntil(choosing.is_set, timeout=30000)
    drawing[first].clear()
    view.open(first)  # another document while the seal is still being chosen for this one
    qtbot.waitUntil(drawing[first].is_set, timeout=30000)
    chosen.set()
    qtbot.waitUntil(lambda: not workers._live, timeout=30000)
    assert view.seal is None and not view.sign_bar.isVisible() and view.path == first
    view.preview.clear()
    _closed_within_the_test(qtbot)


def test_a_long_document_gets_a_bounded_number_of_thumbnails_and_every_page(preview, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                           monkeypatch, shoot) -> None:
    """Thumbnails are drawn for the first MAX_THUMBNAILS pages only (a 20 000-page file would hold GBs
    of them, all drawn before the first page shows); every page is still listed and shown when chosen."""
    from zhenglian.pdf import rendering
    from zhenglian.ui import preview as pv

    monkeypatch.setattr(pv, "MAX_THUMBNAILS", 4)
    drawn: list[tuple[int, float | None]] = []
    real = rendering.render_page

    def counted(pdf, index, *, scale=None, longest=None, **kw):  # type: ignore[no-untyped-def]
        drawn.append((index, longest))
        return real(pdf, index, scale=scale, longest=longest, **kw)

    monkeypatch.setattr(rendering, "render_page", counted)
    src = ph.many_pages(tmp_path / "long.pdf", 9)
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=30000)
    assert sorted(i for i, longest in drawn if longest is not None) == [0, 1, 2, 3]
    assert preview.thumbs.count() == 9
    assert not any(preview.thumbs.item(i).icon().isNull() for i in range(9))  # a blank page past the 4th
    preview.thumbs.setCurrentRow(8)  # a page without a thumbnail: drawn when chosen
    qtbot.waitUntil(lambda: preview.shown_index == 8, timeout=30000)
    assert preview.page_index == 8 and preview.view.page_item is not None and (8, None) in drawn
    preview.resize(900, 640)
    preview.thumbs.scrollToItem(preview.thumbs.item(4))
    # one column of pages, nothing beside them to scroll to
    assert len({preview.thumbs.visualItemRect(preview.thumbs.item(i)).x() for i in range(9)}) == 1
    assert not preview.thumbs.horizontalScrollBar().isVisible()
    shoot(preview, "preview-past-the-thumbnails.png")


def test_a_preview_gone_before_its_document_arrives_closes_it_quietly(qtbot, qapp, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                     monkeypatch) -> None:
    """The widget deleted while its worker still opens the document: the late result touches no deleted
    widget (no traceback) and the PDFium document is closed, not left to the garbage collector."""
    import shiboken6

    from zhenglian.pdf import rendering
    from zhenglian.ui import workers
    from zhenglian.ui.preview import DocumentPreview

    opening, release = threading.Event(), threading.Event()
    real_open, real_close = rendering.open_document, rendering.close
    opened: list[object] = []
    closed: list[object] = []

    def held(source, password=None, *, name=None):  # type: ignore[no-untyped-def]
        opening.set()
        release.wait(60)
        opened.append(real_open(source, password, name=name))
        return opened[-1]

    def close(pdf):  # type: ignore[no-untyped-def]
        closed.append(pdf)
        real_close(pdf)

    monkeypatch.setattr(rendering, "open_document", held)
    monkeypatch.setattr(rendering, "close", close)
    widget = DocumentPreview()
    src = ph.many_pages(tmp_path / "two.pdf", 2)
    widget.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(opening.is_set, timeout=30000)
    shiboken6.delete(widget)
    release.set()
    qtbot.waitUntil(lambda: not workers._live, timeout=30000)
    assert len(opened) == 1 and closed == opened


def test_an_anchor_search_lets_the_window_draw_between_its_pages(tmp_path: Path, monkeypatch) -> None:
    """The anchor search (a batch's worker, a task's preview) holds PDFium one page at a time: the
    window's thread, drawing the page shown, waits at most one page's text, not the whole document's
    for every spelling of the anchor (~35 s at the document budget on this machine)."""
    from zhenglian.pdf import anchors, rendering

    log: list[object] = []

    class Recorded:
        def __enter__(self) -> None:
            rendering.PDFIUM_LOCK.acquire()
            log.append("lock")

        def __exit__(self, *exc: object) -> None:
            log.append("unlock")
            rendering.PDFIUM_LOCK.release()

    real = anchors._hits_on_page

    def page(textpage, index, text):  # type: ignore[no-untyped-def]
        log.append(index)
        return real(textpage, index, text)

    monkeypatch.setattr(anchors, "PDFIUM_LOCK", Recorded())
    monkeypatch.setattr(anchors, "_hits_on_page", page)
    src = ph.many_pages(tmp_path / "three.pdf", 3)
    assert anchors.find(src.read_bytes(), "（盖章）") == []
    searched = [i for i in log if isinstance(i, int)]
    assert searched == [0, 1, 2, 0, 1, 2]  # both spellings, every page
    depth = 0
    for entry in log:
        depth += 1 if entry == "lock" else -1 if entry == "unlock" else 0
        assert depth == 1 or not isinstance(entry, int), f"page {entry} searched outside the lock"
    runs = "".join("|" if e == "unlock" else "" if e == "lock" else str(e) for e in log).split("|")
    assert max(len(r) for r in runs) == 1, runs  # never two pages in one hold


def _answer_password_dialog(qtbot, password: str, before=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Answer the verify page's password question (``before`` runs while it is up); its titles."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog

    seen: list[str] = []

    def answer() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QInputDialog) and w.isVisible():
                seen.append(w.windowTitle())
                if before is not None:
                    before()
                w.setTextValue(password)
                w.accept()

    timer = QTimer()
    timer.timeout.connect(answer)
    timer.start(50)
    qtbot.waitUntil(lambda: bool(seen), timeout=30000)
    timer.stop()
    return seen


def test_an_encrypted_document_is_verified_with_the_password_asked_for(qtbot, qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from zhenglian.services import Context
    from zhenglian.ui.documents_view import DocumentsView

    plain = ph.many_pages(tmp_path / "plain.pdf", 2)
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(ph.encrypted_copy(plain.read_bytes(), user="1234", owner="owner-5678"))
    other = ph.many_pages(tmp_path / "other.pdf", 3)
    view = DocumentsView(SimpleNamespace(ctx=Context.create()))
    qtbot.addWidget(view)

    view.open(locked)
    _answer_password_dialog(qtbot, "1234")
    qtbot.waitUntil(lambda: view.preview.shown_index == 0, timeout=30000)
    assert view.path == locked and view.preview.thumbs.count() == 2 and view.sign_btn.isEnabled()

    # Another document opened while the question is up: the answer is not used to open anything.
    view.open(locked)
    _answer_password_dialog(qtbot, "1234", before=lambda: view.open(other))
    qtbot.waitUntil(lambda: view.preview.doc is not None and view.preview.thumbs.count() == 3, timeout=30000)
    assert view.path == other and view.password is None
    view.preview.clear()
    _closed_within_the_test(qtbot)



def test_the_window_never_waits_on_the_pdfium_lock_to_close_a_document(preview, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Another preview's page or a signing run's anchor search holds the PDFium lock: choosing
    another document (closing this one) does not wait for it; the document is closed after."""
    from zhenglian.pdf import rendering
    from zhenglian.ui import workers

    src = ph.many_pages(tmp_path / "two.pdf", 2)
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=30000)
    pdf = preview.doc
    held, release, order = threading.Event(), threading.Event(), []

    def hold() -> None:
        with rendering.PDFIUM_LOCK:
            held.set()
            release.wait(10)
            order.append("lock given back")

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(30)
    preview.clear()
    order.append("window went on")
    release.set()
    t.join(30)
    qtbot.waitUntil(lambda: not workers._live, timeout=30000)
    assert order == ["window went on", "lock given back"] and preview.doc is None
    assert pdf.raw is None  # closed, once the lock was free  # type: ignore[attr-defined]


def _record_drawing(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """How each page drawing ends, "<index>:drawn" or "<index>:<exception>", in order."""
    from zhenglian.pdf import rendering

    outcomes: list[str] = []
    real = rendering.render_page

    def recorded(pdf, index, **kw):  # type: ignore[no-untyped-def]
        try:
            result = real(pdf, index, **kw)
        except BaseException as exc:
            outcomes.append(f"{index}:{type(exc).__name__}")
            raise
        outcomes.append(f"{index}:drawn")
        return result

    monkeypatch.setattr(rendering, "render_page", recorded)
    return outcomes


class _Clock:
    """rendering.monotonic for a test: ``step`` seconds pass at every look (so PDFium's steps, not the
    machine's speed, decide when a page is too slow).  ``hold``: the next look from a worker waits
    for it, and says so in ``held``."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step
        self.hold: threading.Event | None = None
        self.held = threading.Event()

    def __call__(self) -> float:
        if self.hold is not None and threading.current_thread() is not threading.main_thread():
            hold, self.hold = self.hold, None
            self.held.set()
            hold.wait(60)
        self.now += self.step
        return self.now


def test_a_page_too_intricate_to_draw_in_time_says_so_in_its_place(preview, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                    monkeypatch, shoot) -> None:
    """Counting bounds what PDFium expands, not how long it draws: a dense plan's page is given up
    after RENDER_SECONDS with a message in its place (its thumbnail blank).  The document is not
    refused for it: its other page is drawn when chosen, and only then is it ``loaded`` (the verify
    page offers signing once a page is drawn)."""
    from zhenglian.pdf import rendering
    from zhenglian.ui import i18n

    monkeypatch.setattr(rendering, "monotonic", _Clock(step=1.0))
    src = ph.dense_drawing(tmp_path / "plan.pdf", dense_first=True)
    events: list[str] = []
    preview.loaded.connect(lambda: events.append("loaded"))
    preview.failed.connect(lambda text: events.append("failed"))
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=60000)
    expected = i18n.error_text(errors.PageTooSlowToShow(page=1, seconds=f"{rendering.RENDER_SECONDS:g}"))
    shown = [i.toPlainText() for i in preview.view.scene().items() if hasattr(i, "toPlainText")]
    assert shown == [expected] and preview.view.page_item is None and preview.thumbs.count() == 2
    assert preview.problem is None and events == []
    preview.resize(900, 520)
    shoot(preview, "preview-page-too-slow.png")
    preview.thumbs.setCurrentRow(1)  # "Hello": drawn as usual
    qtbot.waitUntil(lambda: preview.shown_index == 1, timeout=30000)
    assert preview.view.page_item is not None and not [i for i in preview.view.scene().items()
                                                       if hasattr(i, "toPlainText")]
    assert events == ["loaded"]


def test_the_seal_leaves_the_page_on_screen_when_another_is_asked_for(preview, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      monkeypatch) -> None:
    """While the next page is on its way the page before stays on screen, but without the seal: a
    seal dragged there would be reported on the page asked for, where the operator never put it."""
    from PySide6.QtCore import QPointF

    from zhenglian.pdf import rendering

    clock = _Clock(step=0.0)
    monkeypatch.setattr(rendering, "monotonic", clock)
    src = ph.dense_drawing(tmp_path / "plan.pdf")
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=60000)
    preview.set_seal(ph.simple_seal_png(), (42.0, 42.0), 0, 100.0, 100.0, True)
    assert preview.view.seal is not None and preview.view.page_item is not None
    go_on = threading.Event()
    clock.hold = go_on
    preview.thumbs.setCurrentRow(1)  # the plan, held inside PDFium's drawing
    qtbot.waitUntil(clock.held.is_set, timeout=30000)
    moved: list[tuple[int, float, float]] = []
    preview.placementChanged.connect(lambda page, x, y: moved.append((page, x, y)))
    assert preview.view.page_item is not None and preview.view.seal is None  # nothing to drag
    preview.thumbs.setCurrentRow(0)
    go_on.set()
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=60000)
    assert preview.view.seal is not None
    assert {m[0] for m in moved} <= {0}  # placed again where it was, on page 1 (nothing reported for page 2)
    preview.view.seal.setPos(preview.view.seal.pos() + QPointF(30, 0))
    assert moved and moved[-1][0] == 0  # dragged on page 1, reported on page 1


def test_a_page_no_longer_wanted_is_given_up_while_pdfium_draws_it(preview, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   monkeypatch) -> None:
    """The operator chooses another page while the plan is being drawn: PDFium stops at its next
    step (the PDFium lock is free again for the page chosen and for a signing run's anchor search)
    and the page chosen is shown; the document stays open until the given-up drawing has ended."""
    from PySide6.QtCore import QCoreApplication

    from zhenglian.pdf import rendering
    from zhenglian.ui import preview as pv
    from zhenglian.ui import workers

    clock = _Clock(step=0.0)  # no time passes: only giving up can stop the plan
    monkeypatch.setattr(rendering, "monotonic", clock)
    outcomes = _record_drawing(monkeypatch)
    src = ph.dense_drawing(tmp_path / "plan.pdf")  # "Hello" first, then the plan
    monkeypatch.setattr(pv, "MAX_THUMBNAILS", 1)
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(lambda: preview.shown_index == 0, timeout=30000)
    outcomes.clear()
    go_on = threading.Event()
    clock.hold = go_on
    preview.thumbs.setCurrentRow(1)  # the plan: its worker waits inside PDFium's drawing ...
    qtbot.waitUntil(clock.held.is_set, timeout=30000)
    preview.thumbs.setCurrentRow(0)  # ... while the operator goes back to page 1
    go_on.set()
    qtbot.waitUntil(lambda: preview.shown_index == 0 and not workers._live, timeout=60000)
    assert outcomes == ["1:RenderCancelled", "0:drawn"]
    assert preview.view.page_item is not None and preview.info.text().startswith(("Page 1 of 2", "第 1 页"))

    # The app quits while the plan is being drawn: the drawing ends, the pool need not wait for it.
    outcomes.clear()
    go_on.clear()
    clock.held.clear()
    clock.hold = go_on
    preview.thumbs.setCurrentRow(1)
    qtbot.waitUntil(clock.held.is_set, timeout=30000)
    QCoreApplication.instance().aboutToQuit.emit()
    go_on.set()
    qtbot.waitUntil(lambda: not workers._live, timeout=60000)
    assert outcomes == ["1:RenderCancelled"] and preview.shown_index is None


def test_quitting_gives_up_the_thumbnails_still_being_drawn(preview, qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Qt's thread pool is waited for when the app ends: thumbnails of a dense document still being
    drawn are given up at quit, not drawn on for their 10 s."""
    from PySide6.QtCore import QCoreApplication

    from zhenglian.pdf import rendering
    from zhenglian.ui import workers

    clock = _Clock(step=0.0)
    monkeypatch.setattr(rendering, "monotonic", clock)
    outcomes = _record_drawing(monkeypatch)
    go_on = threading.Event()
    clock.hold = go_on  # the thumbnails' worker waits at its first look at the clock
    src = ph.dense_drawing(tmp_path / "plan.pdf", dense_first=True)
    preview.load(src.read_bytes(), name=str(src))
    qtbot.waitUntil(clock.held.is_set, timeout=30000)
    QCoreApplication.instance().aboutToQuit.emit()
    go_on.set()
    qtbot.waitUntil(lambda: not workers._live, timeout=60000)
    assert outcomes == ["0:RenderCancelled"] and preview.doc is None and preview.thumbs.count() == 0
