"""Settings: signing server, start with the system, language, intervals, drivers, log level."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from zhenglian import autostart
from zhenglian.apps import normalise_url
from zhenglian.config import Settings
from zhenglian.netaddr import plain_http_to_another_machine

LANGUAGES = (("zh_CN", "中文"), ("en_US", "English"))
LOG_LEVELS = ("ERROR", "WARNING", "INFO", "DEBUG")


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(self.tr("Settings"))
        self.setMinimumWidth(520)
        form = QFormLayout()
        self.server = QLineEdit(settings.server_url)
        self.server.setObjectName("server_url")
        self.server.setPlaceholderText("https://…")
        form.addRow(self.tr("Signing server"), self.server)
        # Where the address comes from: the installer's preset (zhenglian.deployment) or the operator.
        self.server_note = QLabel()
        self.server_note.setObjectName("server_note")
        self.server_note.setWordWrap(True)
        self.server_note.setStyleSheet("color: #555")
        form.addRow("", self.server_note)
        self.server.textChanged.connect(self._show_server_source)
        self._show_server_source()
        self.autostart = QCheckBox(self.tr("Start zhenglian when I log in"))
        self.autostart.setChecked(settings.autostart)
        form.addRow("", self.autostart)
        self.language = QComboBox()
        for code, name in LANGUAGES:
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, [c for c, _ in LANGUAGES].index(settings.language)
                                          if settings.language in dict(LANGUAGES) else 0))
        form.addRow(self.tr("Language"), self.language)
        self.key_poll = QSpinBox()
        self.key_poll.setRange(200, 10000)
        self.key_poll.setSingleStep(100)
        self.key_poll.setSuffix(self.tr(" ms"))
        self.key_poll.setValue(settings.key_poll_ms)
        form.addRow(self.tr("Check for keys every"), self.key_poll)
        self.task_poll = QSpinBox()
        self.task_poll.setRange(10, 3600)
        self.task_poll.setSuffix(self.tr(" s"))
        self.task_poll.setValue(settings.task_poll_s)
        form.addRow(self.tr("Check for new documents every"), self.task_poll)
        self.modules = QListWidget()
        self.modules.addItems(settings.extra_modules)
        self.modules.setMaximumHeight(90)
        mod_row = QHBoxLayout()
        add = QPushButton(self.tr("Add driver file…"))
        add.clicked.connect(self._add_module)
        remove = QPushButton(self.tr("Remove"))
        remove.clicked.connect(lambda: [self.modules.takeItem(self.modules.row(i)) for i in self.modules.selectedItems()])
        mod_row.addWidget(add)
        mod_row.addWidget(remove)
        mod_row.addStretch(1)
        mod_box = QVBoxLayout()
        mod_box.addWidget(self.modules)
        mod_box.addLayout(mod_row)
        form.addRow(self.tr("Extra PKCS#11 drivers"), mod_box)
        self.log_level = QComboBox()
        names = {"ERROR": self.tr("Errors only"), "WARNING": self.tr("Warnings and errors"),
                 "INFO": self.tr("Normal"), "DEBUG": self.tr("Detailed (for technical support)")}
        for level in LOG_LEVELS:
            self.log_level.addItem(names[level], level)
        self.log_level.setCurrentIndex(self.log_level.findData(settings.log_level if settings.log_level in LOG_LEVELS
                                                               else "INFO"))
        form.addRow(self.tr("Log level"), self.log_level)
        self.register_anchor = QCheckBox(self.tr("After each batch, sign the seal register with the key"))
        self.register_anchor.setObjectName("register_anchor")
        self.register_anchor.setToolTip(self.tr("Binds the register to the seal itself, so removed entries "
                                                 "at its end are detected (see the seal register page)."))
        self.register_anchor.setChecked(settings.register_anchor)
        form.addRow("", self.register_anchor)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b91c1c")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(QLabel(self.tr("A new language applies after restarting zhenglian.")))
        lay.addWidget(buttons)
        # As wide as the longest row needs (the English check boxes are longer than 520 px allows).
        self.setMinimumWidth(max(520, self.minimumSizeHint().width()))

    def _show_server_source(self) -> None:
        preset = self.settings.deployed("server_url")
        if not preset:
            self.server_note.hide()
            return
        if self.server.text().strip() == preset:
            self.server_note.setText(self.tr("Preset by the installer for your institution."))
        else:
            self.server_note.setText(self.tr("Your own address; the installer's preset is %1.").replace("%1", preset))
        self.server_note.show()

    def _add_module(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("PKCS#11 driver file"), "",
                                              self.tr("Driver files (*.dll *.so *.so.* *.dylib);;All files (*)"))
        if path:
            self.modules.addItem(path)

    def accept(self) -> None:
        server = self.server.text().strip()
        if server and normalise_url(server) is None:
            self.error.setText(self.tr("The signing server must be an http(s) address."))
            return
        if server and plain_http_to_another_machine(server if "://" in server else "https://" + server):
            # the rule the client applies when it connects (server/api.py), told now rather than then
            self.error.setText(self.tr("The signing server must use https:// (plain http only for this computer)."))
            return
        s = self.settings
        shown = {
            "server_url": server,
            "language": self.language.currentData(),
            "key_poll_ms": self.key_poll.value(),
            "task_poll_s": self.task_poll.value(),
            "extra_modules": [self.modules.item(i).text() for i in range(self.modules.count())],
            "log_level": str(self.log_level.currentData()),
            "register_anchor": self.register_anchor.isChecked(),
        }
        for name, value in shown.items():
            setattr(s, name, value)
        if self.autostart.isChecked() != s.autostart:
            try:
                autostart.set_enabled(self.autostart.isChecked())
            except OSError as exc:
                self.error.setText(self.tr("Could not change start-up: {e}").format(e=exc.strerror or exc))
                return
            s.autostart = self.autostart.isChecked()
        # What the dialog shows is what the operator confirmed: written even where it equals
        # what this app read at start and a command line changed the file meanwhile.
        s.save(chosen=[*shown, "autostart"])
        super().accept()
