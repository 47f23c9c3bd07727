"""The operator's journeys (issue 16), driven through the real widgets on real SoftHSM keys and the
real reference server; each asserts what the operator sees and saves a screenshot."""

from __future__ import annotations

from serverfixtures import file_keyring, reference_server  # noqa: F401
from uifixtures import PinAnswerer

from zhenglian.reference.provision import DEMO_KEYS

NETCA, SZCA, GDCA = DEMO_KEYS


def _choose_key(app, qtbot, spec) -> None:  # type: ignore[no-untyped-def]
    view = app.tasks_view
    view.key_box.setCurrentIndex(next(i for i, k in enumerate(view.keys) if k.label == spec.label))
    assert view.workspace is not None and view.workspace.key.label == spec.label


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


def test_preview_is_what_gets_signed_cross_page_seal(tray_app, qtbot, reference_server, shoot) -> None:  # noqa: F811
    """抵押合同 asks for a 骑缝章 + the main seal on the anchor: the preview draws the strips on every
    page and the seal where the signer puts it; the signed file's pages show the same red pixels."""
    import pypdfium2 as pdfium

    from zhenglian.ui.preview import RENDER_DPI

    app = tray_app
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
