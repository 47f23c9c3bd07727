"""The 应用 panel: icons for the government systems and an address field."""

from __future__ import annotations

from PySide6.QtCore import QSize, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from zhenglian.apps import App, normalise_url
from zhenglian.ui import icons
from zhenglian.ui.i18n import pick


class AppsView(QWidget):
    opened = Signal(str)  # the URL handed to the browser

    def __init__(self, apps: list[App]) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.address = QLineEdit()
        self.address.setPlaceholderText(self.tr("Address of a government system, e.g. dggjj.dg.gov.cn"))
        self.address.returnPressed.connect(self._go)
        go = QPushButton(self.tr("Open"))
        go.clicked.connect(self._go)
        row.addWidget(self.address, 1)
        row.addWidget(go)
        lay.addLayout(row)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b91c1c")
        lay.addWidget(self.error)
        self.grid = QListWidget()
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(48, 48))
        self.grid.setGridSize(QSize(170, 110))
        self.grid.setWordWrap(True)
        self.grid.setMovement(QListWidget.Movement.Static)
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.itemActivated.connect(lambda it: self.open_url(it.data(256)))
        self.grid.itemClicked.connect(lambda it: self.open_url(it.data(256)))
        lay.addWidget(self.grid, 1)
        self.set_apps(apps)

    def set_apps(self, apps: list[App]) -> None:
        self.grid.clear()
        for app in apps:
            item = QListWidgetItem(icons.icon("tray-ready.svg"), pick(app.name_zh, app.name_en))
            item.setData(256, app.url)
            item.setToolTip(app.url)
            self.grid.addItem(item)

    def _go(self) -> None:
        url = normalise_url(self.address.text())
        if url is None:
            self.error.setText(self.tr("Not a web address (http or https)."))
            return
        self.error.clear()
        self.open_url(url)

    def open_url(self, url: str) -> None:
        self.opened.emit(url)
        QDesktopServices.openUrl(QUrl(url))
