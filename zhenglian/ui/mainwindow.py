"""The main window: keys, documents, verification, government systems, diagnostics."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from zhenglian.appstate import TrayState
from zhenglian.ui import icons
from zhenglian.ui.plaintext import rich_escape


class MainWindow(QMainWindow):
    closedToTray = Signal()
    pdfDropped = Signal(object)  # Path
    PAGES = ("keys", "tasks", "verify", "register", "apps", "diagnostics")

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(self.tr("zhenglian"))
        self.setWindowIcon(icons.icon("tray-ready.svg"))
        self.resize(980, 680)
        self.quitting = False
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setStyleSheet("QLabel#banner { background: #fef3c7; color: #78350f; padding: 8px 12px; "
                                  "border-bottom: 1px solid #f59e0b; }")
        self.banner.hide()
        outer.addWidget(self.banner)
        body = QHBoxLayout()
        self.nav = QListWidget()
        self.nav.setFixedWidth(150)
        self.nav.setStyleSheet("QListWidget { border: none; background: palette(window); font-size: 14px; }"
                               "QListWidget::item { padding: 10px; }")
        self.stack = QStackedWidget()
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)
        self.pages: dict[str, QWidget] = {}
        self.setAcceptDrops(True)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

    def page_title(self, name: str) -> str:
        return {
            "keys": self.tr("Keys"),
            "tasks": self.tr("To sign"),
            "verify": self.tr("Verify"),
            "register": self.tr("Seal register"),
            "apps": self.tr("Applications"),
            "diagnostics": self.tr("Diagnostics"),
        }[name]

    def add_page(self, name: str, widget: QWidget) -> None:
        self.pages[name] = widget
        self.nav.addItem(self.page_title(name))
        self.stack.addWidget(widget)
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)

    def show_page(self, name: str) -> None:
        if name in self.pages:
            self.nav.setCurrentRow(list(self.pages).index(name))
        self.bring_up()

    def bring_up(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def set_state(self, state: TrayState, texts: list[str]) -> None:
        if texts:
            self.banner.setText("<br>".join(f"⚠ {rich_escape(t)}" for t in texts))  # names from certificates
            self.banner.show()
        else:
            self.banner.hide()
        self.setWindowIcon(icons.icon(icons.TRAY_ICON[state.kind]))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        from zhenglian.ui.documents_view import is_pdf_drop

        if is_pdf_drop(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        from zhenglian.ui.documents_view import is_pdf_drop

        path = is_pdf_drop(event)
        if path is not None:
            event.acceptProposedAction()
            self.pdfDropped.emit(path)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.quitting:
            event.accept()
            return
        event.ignore()
        self.hide()
        self.closedToTray.emit()
