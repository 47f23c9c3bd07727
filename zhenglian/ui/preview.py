"""Document preview: real page renderings (pdfium), thumbnails, zoom, and the seal
drawn where it will land — movable where the task allows.

Coordinates are those of the signing code: millimetres on the visible page
(crop box, after /Rotate), origin at the top-left corner, x to the right,
y down, position = the seal's centre.  pdfium renders exactly that view.

A document is drawn only through :mod:`zhenglian.pdf.rendering`: its pages' expanded
size is counted first (a small file can inflate to gigabytes when drawn).  Counting,
opening, the thumbnails and the page shown are all drawn off the window's thread; a
document over the budget, or one that cannot be read, shows its error in the preview
instead of its pages, and a page PDFium cannot draw in time shows why in its place.
A page no longer wanted (another chosen meanwhile) is given up at PDFium's next step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import shiboken6
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from zhenglian import errors
from zhenglian.pdf import rendering
from zhenglian.ui import i18n
from zhenglian.ui.workers import run_async

log = logging.getLogger(__name__)


class SpotLike(Protocol):
    """Where a seal (or a 骑缝章 strip of it) shows: :class:`zhenglian.tasks.workspace.SealSpot`."""

    page: int  # 1-based
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    kind: str
    image_dx_mm: float
    image_width_mm: float
    image_height_mm: float

MM_PER_PT = 25.4 / 72
RENDER_DPI = 110  # page bitmap resolution at zoom 1
# Pages drawn as thumbnails when a document is opened (≈ 26 KB each, twice: image and pixmap).
# The rest are listed by number and drawn when chosen: a 20 000-page file would otherwise hold
# a GB of thumbnails, all drawn before its first page shows.
MAX_THUMBNAILS = 100
THUMBNAIL_SECONDS = 2.0  # one thumbnail; a page PDFium has not drawn by then is listed blank
THUMBNAILS_SECONDS = 10.0  # all of a document's thumbnails; the pages past it are listed blank


def _qimage(pil_image) -> QImage:  # type: ignore[no-untyped-def]
    rgba = pil_image.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    img = QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888)
    return img.copy()  # own the pixels: ``data`` goes away


def _framed(image: QImage) -> QImage:
    """A thumbnail with a thin grey edge: a white page on the white list is otherwise not seen."""
    painter = QPainter(image)  # painting on a QImage is safe off the window's thread
    try:
        painter.setPen(QColor("#9ca3af"))
        painter.drawRect(0, 0, image.width() - 1, image.height() - 1)
    finally:
        painter.end()
    return image


def _open_with_thumbnails(data: bytes, password: str | None, name: str | None,
                          cancelled: Callable[[], bool]) -> tuple[object, int, list[QImage | None]]:
    """In a worker: the document counted and opened, its page count, and the first MAX_THUMBNAILS
    pages' thumbnails (QImage is thread-safe; None for a page too slow to draw)."""
    pdf = rendering.open_document(data, password, name=name)
    try:
        pages = rendering.page_count(pdf)
        thumbs: list[QImage | None] = []
        started = rendering.monotonic()
        for i in range(min(pages, MAX_THUMBNAILS)):
            if rendering.monotonic() - started > THUMBNAILS_SECONDS:
                break
            try:
                image = rendering.render_page(pdf, i, longest=96, cancelled=cancelled, seconds=THUMBNAIL_SECONDS)[0]
            except errors.PageTooSlowToShow:
                thumbs.append(None)
                continue
            thumbs.append(_framed(_qimage(image)))
        return pdf, pages, thumbs
    except BaseException:
        rendering.close(pdf)
        raise


def _page_image(pdf: object, index: int, wanted: threading.Event) -> tuple[QImage, tuple[float, float]]:
    """In a worker: page ``index`` at the preview's resolution, as a QImage, and its size in points."""
    pil, size = rendering.render_page(pdf, index, scale=RENDER_DPI / 72, cancelled=wanted.is_set)
    return _qimage(pil), size


class _Drawn:
    """The PDFium document of the preview, closed once it is not wanted and no worker draws on it.
    Used on the window's thread only (the workers are handed ``pdf`` with ``drawing`` counted)."""

    def __init__(self, pdf: object) -> None:
        self.pdf: object | None = pdf
        self.drawing = 0
        self.wanted = True

    def done(self) -> None:
        self.drawing -= 1
        self._close_if_idle()

    def release(self) -> None:
        self.wanted = False
        self._close_if_idle()

    def _close_if_idle(self) -> None:
        if not self.wanted and self.drawing == 0 and self.pdf is not None:
            _close_later(self.pdf)
            self.pdf = None


def _close_later(pdf: object) -> None:
    """Close a document in a worker: closing takes the PDFium lock, which another preview's page
    or a signing run's anchor search may hold for seconds; the window's thread never waits on it."""
    run_async(lambda: rendering.close(pdf))


class SealItem(QGraphicsPixmapItem):
    def __init__(self, pixmap: QPixmap, view: PreviewView) -> None:
        super().__init__(pixmap)
        self.view = view
        self.setOffset(-pixmap.width() / 2, -pixmap.height() / 2)
        self.setZValue(10)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, True)

    def set_movable(self, movable: bool) -> None:
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, movable)
        self.setCursor(Qt.CursorShape.OpenHandCursor if movable else Qt.CursorShape.ArrowCursor)

    def itemChange(self, change, value):  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and self.view.page_rect is not None:
            r = self.view.page_rect
            p = QPointF(value)
            return QPointF(min(max(p.x(), r.left()), r.right()), min(max(p.y(), r.top()), r.bottom()))
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.view.seal_moved()
        return super().itemChange(change, value)


class PreviewView(QGraphicsView):
    placementChanged = Signal(int, float, float)  # page index, x mm, y mm (seal centre)

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor("#e5e7eb"))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.zoom = 1.0
        self.page_item: QGraphicsPixmapItem | None = None
        self.page_rect: QRectF | None = None
        self.page_mm = (0.0, 0.0)
        self.seal: SealItem | None = None
        self.slices: list[QGraphicsPixmapItem] = []
        self._px_per_mm = RENDER_DPI / 25.4

    def show_page(self, image: QImage, page_mm: tuple[float, float]) -> None:
        scene = self.scene()
        if self.page_item is not None:
            scene.removeItem(self.page_item)
        self.page_item = scene.addPixmap(QPixmap.fromImage(image))
        self.page_item.setZValue(0)
        self.page_rect = QRectF(0, 0, image.width(), image.height())
        self.page_mm = page_mm
        self._px_per_mm = image.width() / page_mm[0] if page_mm[0] else RENDER_DPI / 25.4
        scene.setSceneRect(self.page_rect.adjusted(-20, -20, 20, 20))

    def remove_seal(self) -> None:
        if self.seal is not None:
            self.scene().removeItem(self.seal)
            self.seal = None

    def place_seal(self, seal_png: bytes | None, size_mm: tuple[float, float], x_mm: float, y_mm: float,
                   movable: bool) -> None:
        self.remove_seal()
        if not seal_png:
            return
        src = QImage.fromData(seal_png)
        w, h = (max(1, round(v * self._px_per_mm)) for v in size_mm)
        pix = QPixmap.fromImage(src.scaled(QSize(w, h), Qt.AspectRatioMode.IgnoreAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))
        self.seal = SealItem(pix, self)
        self.seal.set_movable(movable)
        self.seal.setPos(x_mm * self._px_per_mm, y_mm * self._px_per_mm)
        self.scene().addItem(self.seal)

    def clear_slices(self) -> None:
        for item in self.slices:
            self.scene().removeItem(item)
        self.slices = []

    def place_slice(self, seal_png: bytes | None, spot: SpotLike) -> None:
        """One 骑缝章 strip: the part of the whole seal picture that falls inside the spot."""
        if not seal_png:
            return
        k = self._px_per_mm
        full_w, full_h = max(1, round(spot.image_width_mm * k)), max(1, round(spot.image_height_mm * k))
        whole = QImage.fromData(seal_png).scaled(QSize(full_w, full_h), Qt.AspectRatioMode.IgnoreAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)
        left = min(max(0, round(-spot.image_dx_mm * k)), full_w - 1)
        width = max(1, min(round(spot.width_mm * k), full_w - left))
        item = self.scene().addPixmap(QPixmap.fromImage(whole.copy(left, 0, width, full_h)))
        item.setZValue(9)
        item.setPos((spot.x_mm - spot.width_mm / 2) * k, (spot.y_mm - spot.height_mm / 2) * k)
        self.slices.append(item)

    def seal_position_mm(self) -> tuple[float, float] | None:
        if self.seal is None:
            return None
        return (self.seal.pos().x() / self._px_per_mm, self.seal.pos().y() / self._px_per_mm)

    def seal_moved(self) -> None:
        pos = self.seal_position_mm()
        if pos is not None:
            self.placementChanged.emit(-1, *pos)

    def set_zoom(self, zoom: float) -> None:
        self.zoom = min(max(zoom, 0.25), 4.0)
        self.resetTransform()
        self.scale(self.zoom, self.zoom)

    def wheelEvent(self, event):  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom * (1.15 if event.angleDelta().y() > 0 else 1 / 1.15))
            event.accept()
        else:
            super().wheelEvent(event)


class DocumentPreview(QWidget):
    """Thumbnails on the left, the page with the seal on the right, zoom buttons."""

    placementChanged = Signal(int, float, float)
    loaded = Signal()  # the document loaded last is drawn (thumbnails and a first page shown)
    failed = Signal(str)  # … or cannot be: the error's text, shown in the preview too
    pageShown = Signal(int)  # the page chosen last is on screen (or why it is not, in its place)

    def __init__(self) -> None:
        super().__init__()
        self._drawn: _Drawn | None = None  # the document drawn (``doc``), closed once no worker draws on it
        self.problem: str | None = None  # why the document loaded last is not drawn
        self.shown_index: int | None = None  # the page on screen (None: none yet, or on its way)
        self._page_wanted: threading.Event | None = None  # set when the page being drawn is not wanted
        self._first_page = False  # no page of the document drawn yet: the first one drawn emits ``loaded``
        self._loading = 0  # which load() is current: an older one's result is dropped
        self._row_when_drawn = 0  # the page to show once the document arrives
        self._fit_when_drawn = False
        self.page_index = 0
        self.seal_png: bytes | None = None
        self.seal_mm = (42.0, 42.0)
        self.seal_page = 0
        self.seal_xy = (0.0, 0.0)
        self.movable = False
        self.slices: list[SpotLike] = []  # 骑缝章 strips, drawn on every page they land on
        lay = QHBoxLayout(self)
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbs.setFlow(QListWidget.Flow.TopToBottom)
        self.thumbs.setIconSize(QSize(96, 128))
        self.thumbs.setFixedWidth(130)
        self.thumbs.setMovement(QListWidget.Movement.Static)
        self.thumbs.setWrapping(False)  # one column: icon mode wrapped the pages into a second, half hidden
        self.thumbs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thumbs.currentRowChanged.connect(self.show_page)
        right = QVBoxLayout()
        bar = QHBoxLayout()
        self.info = QLabel()
        bar.addWidget(self.info, 1)
        for text, factor in (("−", 1 / 1.25), ("+", 1.25)):
            b = QPushButton(text)
            b.setFixedWidth(32)
            b.clicked.connect(lambda _=False, f=factor: self.view.set_zoom(self.view.zoom * f))
            bar.addWidget(b)
        fit = QPushButton(self.tr("Fit"))
        fit.clicked.connect(self.fit)
        bar.addWidget(fit)
        self.view = PreviewView()
        self.view.placementChanged.connect(self._moved)
        right.addLayout(bar)
        right.addWidget(self.view, 1)
        lay.addWidget(self.thumbs)
        lay.addLayout(right, 1)
        app = QCoreApplication.instance()
        if app is not None:  # drawing still under way does not hold up the end of the app (the pool waits)
            app.aboutToQuit.connect(self._quitting)

    @property
    def doc(self) -> object | None:
        """The pypdfium2 document drawn, once counted and opened (None while loading or refused)."""
        return self._drawn.pdf if self._drawn is not None else None

    def _clear_scene(self) -> None:
        self.view.scene().clear()
        self.view.page_item, self.view.page_rect, self.view.seal, self.view.slices = None, None, None, []

    def _quitting(self) -> None:
        self._loading += 1  # the thumbnails still being drawn are given up too
        self._give_up_page()

    def _give_up_page(self) -> None:
        if self._page_wanted is not None:
            self._page_wanted.set()  # PDFium stops at its next step; the worker drops the page
            self._page_wanted = None

    def _reset(self) -> None:
        self._loading += 1  # a load still under way is moot
        drawn, self._drawn = self._drawn, None  # first: emptying the list changes its row
        self._give_up_page()
        self.thumbs.clear()
        self._clear_scene()
        if drawn is not None:
            drawn.release()  # closed now, or when the page a worker still draws is given up
        self.shown_index, self._first_page = None, False
        self.problem, self.seal_png, self.slices, self.seal_page = None, None, [], 0
        self._row_when_drawn, self._fit_when_drawn = 0, False
        self.info.clear()

    def clear(self) -> None:
        """Show nothing (no document chosen, or the one shown is no longer current)."""
        self._reset()

    def load(self, data: bytes, password: str | None = None, *, name: str | None = None) -> None:
        """Draw ``data``: counted, opened and its thumbnails made in a worker; then its page is shown
        (``loaded``), or its error (``failed``, :attr:`problem`).  ``name`` is what errors call it."""
        self._reset()
        ticket = self._loading
        run_async(lambda: _open_with_thumbnails(data, password, name, lambda: ticket != self._loading),
                  lambda result: self._opened(ticket, result), lambda exc: self._refused(ticket, exc))

    def _opened(self, ticket: int, result: tuple[object, int, list[QImage | None]]) -> None:
        pdf, pages, thumbs = result
        if ticket != self._loading or not shiboken6.isValid(self):
            _close_later(pdf)  # another document was chosen meanwhile, or the preview is gone
            return
        self._drawn, self._first_page = _Drawn(pdf), True
        drawn = [t for t in thumbs if t is not None]
        blank: QPixmap | None = None  # past MAX_THUMBNAILS or too slow: a blank page (one pixmap, shared)
        for i in range(pages):
            thumb = thumbs[i] if i < len(thumbs) else None
            if thumb is None and blank is None:
                page = QImage(drawn[0].size() if drawn else QSize(68, 96), QImage.Format.Format_RGB32)
                page.fill(QColor("white"))
                blank = QPixmap.fromImage(_framed(page))
            self.thumbs.addItem(QListWidgetItem(QPixmap.fromImage(thumb) if thumb is not None else blank, str(i + 1)))
        row = self._row_when_drawn if 0 <= self._row_when_drawn < pages else 0
        if self.thumbs.currentRow() != row:
            self.thumbs.setCurrentRow(row)
        else:
            self.show_page(row)

    def _refused(self, ticket: int, exc: BaseException) -> None:
        if ticket != self._loading or not shiboken6.isValid(self):
            return
        log.info("preview refused: %s", type(exc).__name__)
        self.problem = i18n.error_text(exc)
        self._show_message(self.problem)
        self.failed.emit(self.problem)

    def _show_message(self, message: str) -> None:
        """``message`` where the page would be."""
        self._clear_scene()
        text = self.view.scene().addText(message)
        text.setTextWidth(420)
        text.setDefaultTextColor(QColor("#b91c1c"))
        self.view.scene().setSceneRect(text.boundingRect())

    def set_seal(self, png: bytes | None, size_mm: tuple[float, float], page: int, x_mm: float, y_mm: float,
                 movable: bool) -> None:
        self.seal_png, self.seal_mm, self.seal_page, self.seal_xy, self.movable = png, size_mm, page, (x_mm, y_mm), movable
        self.slices = []
        self._row_when_drawn = page
        if self.doc is not None:
            self._go_to(page)

    def set_spots(self, png: bytes | None, spots: Sequence[SpotLike], movable: bool) -> None:
        """Draw the seal where the signer puts it: the whole seal, and each 骑缝章 strip on its page.

        Shows the page of the whole seal (or of the first strip)."""
        main = next((s for s in spots if s.kind != "strip"), None)
        strips = [s for s in spots if s.kind == "strip"]
        self.seal_png, self.movable, self.slices = png, movable and main is not None, strips
        if main is not None:
            self.seal_mm, self.seal_page = (main.width_mm, main.height_mm), main.page - 1
            self.seal_xy = (main.x_mm, main.y_mm)
        else:
            self.seal_page = -1
        first = self.seal_page if main is not None else (strips[0].page - 1 if strips else 0)
        self._row_when_drawn = first
        if self.doc is not None:
            self._go_to(first)
        self.fit()  # the whole page: the operator sees where the seal lands at once

    def drawn(self) -> list[tuple[str, float, float, float, float]]:
        """What is drawn on the page shown: (kind, left, top, width, height) in mm on the visible page."""
        k = self.view._px_per_mm
        items = ([("seal", self.view.seal)] if self.view.seal is not None else []) + \
            [("strip", item) for item in self.view.slices]
        return [(kind, r.left() / k, r.top() / k, r.width() / k, r.height() / k)
                for kind, item in items for r in [item.sceneBoundingRect()]]

    def show_page(self, index: int) -> None:
        """Draw page ``index`` in a worker; it is shown when it arrives (``pageShown``), unless
        another page or document is chosen first: then it is given up."""
        if self._drawn is None or not 0 <= index < self.thumbs.count():
            return
        self.page_index, self.shown_index = index, None
        self._give_up_page()
        # The page on screen stays until the next arrives, without its seal: a seal dragged meanwhile
        # would be reported on the page asked for, where the operator never put it.
        self.view.remove_seal()
        self.view.clear_slices()
        wanted = self._page_wanted = threading.Event()
        drawn = self._drawn
        pdf = drawn.pdf
        drawn.drawing += 1  # not closed under the worker
        run_async(lambda: _page_image(pdf, index, wanted),
                  lambda result: self._page_drawn(drawn, wanted, index, result),
                  lambda exc: self._page_refused(drawn, wanted, index, exc))

    def _place_marks(self, index: int) -> None:
        """The seal and the 骑缝章 strips that land on page ``index`` (the page drawn)."""
        self.view.remove_seal()
        self.view.clear_slices()
        if index == self.seal_page:
            self.view.place_seal(self.seal_png, self.seal_mm, *self.seal_xy, self.movable)
        for spot in self.slices:
            if spot.page - 1 == index:
                self.view.place_slice(self.seal_png, spot)

    def _go_to(self, index: int) -> None:
        """Page ``index`` with the seal as set now: drawn again only when it is not on screen."""
        if self.shown_index == index and self._page_wanted is None and self.view.page_rect is not None:
            self._place_marks(index)
        elif self.thumbs.currentRow() != index:
            self.thumbs.setCurrentRow(index)
        else:
            self.show_page(index)

    def _current(self, drawn: _Drawn, wanted: threading.Event) -> bool:
        drawn.done()
        if wanted.is_set() or not shiboken6.isValid(self) or drawn is not self._drawn:
            return False  # given up: another page or document was chosen, or the preview is gone
        self._page_wanted = None
        return True

    def _page_drawn(self, drawn: _Drawn, wanted: threading.Event, index: int, result: tuple[object, object]) -> None:
        if not self._current(drawn, wanted):
            return
        image, (w_pt, h_pt) = result  # type: ignore[misc]
        self._clear_scene()
        self.view.show_page(image, (w_pt * MM_PER_PT, h_pt * MM_PER_PT))
        self._place_marks(index)
        self.info.setText(self.tr("Page {n} of {total} · {w:.0f} × {h:.0f} mm").format(
            n=index + 1, total=self.thumbs.count(), w=w_pt * MM_PER_PT, h=h_pt * MM_PER_PT))
        self._arrived(index)
        if self._first_page:
            self._first_page = False
            self.loaded.emit()

    def _page_refused(self, drawn: _Drawn, wanted: threading.Event, index: int, exc: BaseException) -> None:
        if not self._current(drawn, wanted) or isinstance(exc, rendering.RenderCancelled):
            return
        log.info("page not drawn: %s", type(exc).__name__)
        text = i18n.error_text(exc)
        self._show_message(text)
        self.info.setText(self.tr("Page {n} of {total}").format(n=index + 1, total=self.thumbs.count()))
        self._arrived(index)  # ``loaded`` waits for a page that can be drawn: the operator may choose one

    def _arrived(self, index: int) -> None:
        self.shown_index = index
        if self._fit_when_drawn:
            self._fit_when_drawn = False
            self.fit()
        self.pageShown.emit(index)

    def fit(self) -> None:
        """The whole page in view (once it is drawn, if it is still on its way)."""
        if self._page_wanted is None and self.view.page_rect is not None:
            self.view.fitInView(self.view.page_rect, Qt.AspectRatioMode.KeepAspectRatio)
            self.view.zoom = self.view.transform().m11()
        elif self.problem is None:
            self._fit_when_drawn = True

    def _moved(self, _page: int, x: float, y: float) -> None:
        self.seal_xy = (x, y)
        self.placementChanged.emit(self.page_index, x, y)


