"""What the operator does with a key from the tray or the keys page:
change the PIN, unlock it, renew its certificate, see its seals; and the
expiry reminders.  Key work runs in workers; dialogs on the GUI thread.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from zhenglian import errors
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.model import KeyInfo
from zhenglian.ui import i18n
from zhenglian.ui.marshal import ThreadedPrompter
from zhenglian.ui.workers import run_async

log = logging.getLogger(__name__)

QUIET = (errors.PinCancelled, errors.FinalTryNotConfirmed)
REMINDER_CHECK_MS = 3600 * 1000


class KeyActions(QObject):
    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        self.ctx = app.ctx
        self._store: Any = None
        self._prompting = False
        self._recheck = False  # a check was asked for while prompts were up
        self._open_prompts: list[Any] = []
        self._remembered: frozenset[Any] = frozenset()
        self.started = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check_reminders)

    def start(self) -> None:
        self.started = True
        self.timer.start(REMINDER_CHECK_MS)
        QTimer.singleShot(5000, self.check_reminders)

    # --- helpers ---------------------------------------------------------------------

    def parent(self) -> QWidget:
        return self.app.window

    def _prompter(self, key: KeyInfo) -> ThreadedPrompter:
        # with the first key action: its widgets and Qt's enums are ≈ 2.5 MB the idle tray needs not
        from zhenglian.ui.pin_dialogs import DialogPrompter

        return ThreadedPrompter(DialogPrompter(key, self.parent(), manifest=self.ctx.tokens.pin_policy_manifest(key)))

    def _error(self, exc: BaseException) -> None:
        if isinstance(exc, (QUIET, errors.PinLocked)):
            return  # cancelled by the operator, or the locked dialog said it all
        from zhenglian.ui.diagnostics_view import record_error

        text = i18n.error_text(exc)
        record_error(text)
        QMessageBox.warning(self.parent(), self.tr("zhenglian"), text)

    def choose_key(self, keys: list[KeyInfo] | None = None) -> KeyInfo | None:
        keys = keys if keys is not None else self.app.controller.current_keys()
        if not keys:
            QMessageBox.information(self.parent(), self.tr("zhenglian"), self.tr("No key plugged in."))
            return None
        if len(keys) == 1:
            return keys[0]
        names = [f"{k.organization() or k.label} · {i18n.pick(k.ca_name_zh or '', k.ca_name_en or '')} ({k.serial})"
                 for k in keys]
        name, ok = QInputDialog.getItem(self.parent(), self.tr("Choose a key"), self.tr("Key:"), names, 0, False)
        return keys[names.index(name)] if ok else None

    # --- PIN ---------------------------------------------------------------------------

    def change_pin(self, key: KeyInfo | None = None) -> None:
        key = key or self.choose_key()
        if key is None:
            return
        h = self.ctx.tokens.handle(key)
        prompter = self._prompter(key)

        def done(_: object) -> None:
            self.app.tray.notify(self.tr("PIN changed"), key.organization() or key.label)
            self.app.controller.refresh(key)

        run_async(lambda: pinops.interactive_change(h, prompter), done, self._error)

    def factory_pin_refused(self, key: KeyInfo, exc: BaseException) -> None:
        """The factory PIN was typed (any page, the web page too): nothing reached the key.
        Say so, then open the change-PIN dialog at once — the one way forward."""
        QMessageBox.warning(self.parent(), self.tr("zhenglian"), i18n.error_text(exc))
        self.change_pin(key)

    def unlock(self, key: KeyInfo) -> None:
        h = self.ctx.tokens.handle(key)
        prompter = self._prompter(key)
        run_async(lambda: pinops.interactive_unlock(h, prompter),
                  lambda _r: (self.app.tray.notify(self.tr("Key unlocked"), key.organization() or key.label),
                              self.app.controller.refresh(key)), self._error)

    def pin_failed(self, key: KeyInfo, prompter: Any, exc: BaseException) -> None:
        """A wrong PIN or the lock, from any page: the key is read again now (card: 曾输错 PIN /
        已锁定 with the unlock route; tray icon); a lock that just happened is said at once — a
        notification and the locked dialog, unless this prompter already showed it."""
        self.app.controller.refresh(key)
        self.app.controller.recompute()  # card, tray icon, 待签署: from the wrong-PIN count now
        if not isinstance(exc, errors.PinLocked):
            return
        self.app.tray.notify(self.tr("Key locked"), key.organization() or key.label, warning=True)
        if getattr(prompter, "lockedDialog", None) is not None:
            return  # the prompter showed the locked dialog itself (the key was locked before)
        h = self.ctx.tokens.handle(key)
        run_async(lambda: pinops.status(h), lambda st: prompter.locked(st, exc),
                  lambda e: log.info("status after lock: %s", type(e).__name__))

    # --- renewal -----------------------------------------------------------------------

    def renew(self, key: KeyInfo | None = None) -> None:
        key = key or self.choose_key()
        if key is None:
            return
        from zhenglian.lifecycle import renew as renewal

        manifest = self.ctx.tokens.pin_policy_manifest(key)
        h = self.ctx.tokens.handle(key)
        try:
            url = renewal.precheck(h, self.ctx.settings, manifest)  # a library that cannot renew: before the PIN
        except errors.CertificateExpired:
            self.show_expired(key)
            return
        except errors.ZhenglianError as exc:
            self._error(exc)
            return
        prompter = self._prompter(key)

        def work() -> Any:
            st, pin = pinops.gate_and_ask(h, prompter)
            try:
                return renewal.renew(h, pin, url, confirmed_final_try=st.final_try)
            finally:
                if pin is not None:
                    pin.wipe()

        def done(result: Any) -> None:
            self.app.tray.notify(self.tr("Certificate renewed"),
                                 self.tr("Valid until {date}").format(date=f"{result.new.not_after:%Y-%m-%d}"))
            self.app.controller.refresh(key)  # the new certificate: card, banner, tasks, next login

        def failed(exc: BaseException) -> None:
            if isinstance(exc, errors.InitialPinInUse):
                self.factory_pin_refused(key, exc)
            else:
                self._error(exc)

        run_async(work, done, failed)

    def show_expired(self, key: KeyInfo) -> None:
        from zhenglian.lifecycle import observe
        from zhenglian.ui.lifecycle_dialogs import ExpiredDialog, save_form

        manifest = self.ctx.tokens.pin_policy_manifest(key)
        remembered = observe.remember_keys(self.ctx.tokens, [key], self.store())
        if not remembered:
            return
        dlg = ExpiredDialog(remembered[0], manifest, self.store(), self.parent())
        dlg.formsRequested.connect(lambda kind: save_form(self.parent(), kind, key, manifest))
        self._keep_open(dlg)

    # --- seals -------------------------------------------------------------------------

    def show_seals(self, key: KeyInfo) -> None:
        from zhenglian.seals.store import seals_for_key

        module = self.ctx.tokens.module_for(key)
        cert = key.signing_certificate()
        if cert is None:
            self._error(errors.NoCertificate(serial=key.serial))
            return

        def work() -> Any:
            with module.session(key.serial) as session:  # seals are public objects: no PIN
                return seals_for_key(session, cert.info.der)

        def done(catalog: Any) -> None:
            lines = [f"• {s.name}（{s.seal_type}，{s.width_mm:g} mm）" for s in catalog.usable()]
            lines += [f"✘ {r.name}: {i18n.pick(r.message_zh(), r.message_en())}" for r in catalog.rejected]
            QMessageBox.information(self.parent(), self.tr("Seals"),
                                    "\n".join(lines) or self.tr("No seal on this key or for this certificate."))

        run_async(work, done, self._error)

    # --- reminders ------------------------------------------------------------------------

    def store(self) -> Any:
        if self._store is None:
            from zhenglian.lifecycle.store import CertificateStore

            self._store = CertificateStore.from_settings(self.ctx.settings)
        return self._store

    def remember(self, keys: list[KeyInfo] | tuple[KeyInfo, ...]) -> None:
        """Remember every signing certificate seen, so a key left in a drawer is still reminded.

        Reads the keys' seal names (PKCS#11), so it runs in a worker, once per new set of keys.
        """
        from zhenglian.lifecycle import observe

        seen = frozenset(k.fingerprint for k in keys)
        if seen == self._remembered:
            return
        self._remembered = seen
        store, tokens, todo = self.store(), self.ctx.tokens, list(keys)

        def work() -> bool:
            try:
                observe.remember_keys(tokens, todo, store)
            except (OSError, errors.ZhenglianError) as exc:
                log.warning("could not remember certificates: %s", type(exc).__name__)
                return False
            return True

        def remembered(ok: bool) -> None:
            if not ok and self._remembered == seen:
                self._remembered = frozenset()  # tried again with the next key event, not never
                return
            # A key plugged in after start-up is reminded as soon as its certificate is known,
            # not at the next hourly check (each threshold still once).
            if self.started:
                self.check_reminders()

        run_async(work, remembered)

    def _keep_open(self, dlg: Any, then: Any = None) -> None:
        """Show ``dlg`` non-modally (lifecycle_dialogs.present); keep it alive until it closes."""
        from zhenglian.ui.lifecycle_dialogs import present

        self._open_prompts.append(dlg)

        def closed(_result: int) -> None:
            if dlg in self._open_prompts:
                self._open_prompts.remove(dlg)
            dlg.deleteLater()
            if then is not None:
                then()

        dlg.finished.connect(closed)
        present(dlg)

    def check_reminders(self, now: datetime | None = None) -> list[Any]:
        """Show what is due: a tray notification and a prompt, each threshold once.

        The prompts are non-modal and shown one after the other (the next when the
        previous closes): a prompt hidden behind the main window never blocks it.  A check
        asked for while prompts are up (a key plugged in meanwhile) runs when the last closes.
        """
        if self._prompting:
            self._recheck = True
            return []
        due = self.store().due(now or datetime.now(UTC))
        if not due:
            return due  # the usual hourly answer: the dialogs' module stays out of the idle app (≈ 1 MB)
        from zhenglian.ui.lifecycle_dialogs import (
            ExpiredDialog,
            ReminderDialog,
            notification_text,
            save_form,
        )

        queue = list(due)

        def next_prompt() -> None:
            if not queue:
                self._prompting = False
                if self._recheck:
                    self._recheck = False
                    self.check_reminders()
                return
            r = queue.pop(0)
            title, text = notification_text(r)
            self.app.tray.notify(title, text, warning=True)
            manifest = self.ctx.manifests.by_id(r.cert.ca_id) if r.cert.ca_id else None
            dlg: Any
            if r.kind == "expired":
                dlg = ExpiredDialog(r.cert, manifest, self.store(), self.parent())
                dlg.formsRequested.connect(lambda kind, c=r.cert, m=manifest: save_form(self.parent(), kind, c, m))
            else:
                dlg = ReminderDialog(r, manifest, self.store(), self.parent())
                dlg.renewRequested.connect(lambda sha: self._renew_by_sha(sha))
            self._keep_open(dlg, then=next_prompt)

        self._prompting = True
        next_prompt()
        return due

    def _renew_by_sha(self, sha: str) -> None:
        key = next((k for k in self.app.controller.current_keys()
                    for c in k.certificates if c.info.sha256 == sha), None)
        if key is None:
            QMessageBox.information(self.parent(), self.tr("Renew certificate"),
                                    self.tr("Plug in the key that holds this certificate, then choose "
                                            "Renew certificate in the tray menu."))
            return
        self.renew(key)
