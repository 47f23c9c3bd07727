"""The signing path's side of the register: one :class:`SealRecorder` per signing act.

Every path that stamps the seal (local files, a task batch, a web-page request)
goes through :mod:`zhenglian.pdf.localsign` or :mod:`zhenglian.tasks.pipeline`,
and those call this recorder:

- :meth:`SealRecorder.publish_signed` — with the signed bytes on disk and before
  they are handed on (renamed into place, or committed to the outbox): the entry
  is committed first, so a crash never leaves a signed document without its
  entry, and an entry never names a document that was not written.  When the
  register cannot record (full disk, damaged file), the typed error propagates
  and the document is not handed on.
- :meth:`SealRecorder.not_signed` — a document that was not signed after the PIN
  was typed (failed, refused, cancelled): recorded, but a register that cannot
  record it does not stop anything (there is no signature to lose).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zhenglian import errors
from zhenglian.register.facts import describe_use, sha256_file

log = logging.getLogger(__name__)


def _spots(result: Any) -> list[tuple[int, float, float, float, float]]:
    out = []
    for made in getattr(result, "signatures", ()) or ():
        for d in made.spots:
            out.append((int(d["page"]), float(d["x_mm"]), float(d["y_mm"]), float(d["width_mm"]),
                        float(d["height_mm"])))
    return out


def input_facts(source: Any) -> tuple[str, int]:
    """(SHA-256, size) of a document given as a path or bytes."""
    if isinstance(source, bytes | bytearray):
        return hashlib.sha256(source).hexdigest(), len(source)
    if not isinstance(source, str | Path):
        return "", 0  # a stream: its bytes are the caller's, not re-read here
    path = Path(source)
    return sha256_file(path), path.stat().st_size


class SealRecorder:
    """What one signing act writes into the register (the register is opened on first use)."""

    def __init__(self, handle: Any, origin: str, *, server: str = "", web_origin: str = "",
                 register: Any = None) -> None:
        self.key = handle.key
        self.cert = handle.signing_cert.info
        self.origin = origin
        self.server = server
        self.web_origin = web_origin
        self._register = register
        self._open_lock = threading.Lock()  # a pipelined batch records from several threads

    @property
    def register(self) -> Any:
        with self._open_lock:
            if self._register is None:
                from zhenglian.register import Register

                self._register = Register.open()
            return self._register

    def _use(self, outcome: str, *, name: str, seal: Any, **facts: Any) -> Any:
        return describe_use(outcome=outcome, origin=self.origin, document_name=name, key=self.key,
                            cert=self.cert, seal=seal, server=self.server, web_origin=self.web_origin, **facts)

    def publish_signed(self, tmp: Path | None, result: Any, *, name: str, seal: Any, input_sha256: str,
                       input_size: int, output_path: str | Path = "", output_sha256: str | None = None,
                       task_id: str = "", local_path: str | Path = "") -> int:
        """Commit the entry for a signed document whose bytes are in ``tmp`` (not yet handed on)."""
        if output_sha256 is None:
            if tmp is None:
                raise ValueError("the signed bytes or their SHA-256 are needed")
            output_sha256 = sha256_file(tmp)
        use = self._use("signed", name=name, seal=seal, document_size=input_size, input_sha256=input_sha256,
                        output_sha256=output_sha256,
                        page_count=int(getattr(result, "pages", 0) or 0), placements=_spots(result),
                        task_id=task_id, local_path=local_path, output_path=output_path)
        return int(self.register.record(use))

    def not_signed(self, outcome: str, *, name: str, seal: Any, error: BaseException | None,
                   task_id: str = "", local_path: str | Path = "", input_sha256: str = "",
                   input_size: int = 0) -> None:
        try:
            self.register.record(self._use(outcome, name=name, seal=seal, error=error, task_id=task_id,
                                           local_path=local_path, input_sha256=input_sha256,
                                           document_size=input_size))
        except errors.ZhenglianError as exc:
            log.warning("register: could not record a %s use (%s)", outcome, exc.code)

    def anchor_if_enabled(self, sign: Any) -> None:
        """At the end of a batch: sign the register's head with the key when the setting asks
        (``register_anchor``), so the chain is anchored to the seal itself.  A failure is logged,
        never fatal: every document is signed and recorded already."""
        from zhenglian.config import Settings

        try:
            if not Settings.load().register_anchor:
                return
            self.register.anchor(sign, self.cert.der)
        except errors.ZhenglianError as exc:
            log.warning("register: the head could not be anchored with the key (%s)", exc.code)

    def not_signed_all(self, outcome: str, names: Iterable[tuple[str, Any]], error: BaseException | None) -> None:
        for name, seal in names:
            self.not_signed(outcome, name=name, seal=seal, error=error)


def outcome_of(exc: BaseException) -> str:
    """The register's word for why a document was not signed."""
    if isinstance(exc, errors.PinCancelled | errors.SignDeclined | KeyboardInterrupt):
        return "cancelled"
    if getattr(exc, "exit_code", None) == errors.ExitCode.DOCUMENT:
        return "refused"  # the document itself could not take the seal
    return "failed"
