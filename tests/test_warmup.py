"""zhenglian.pdf.warmup: the signing's imports and the seal's compression, while the PIN is typed.

The warm-up starts only when the operator is asked for something (never before the
pre-PIN checks are done), never sees the PIN, and is finished before the caller goes on.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.pdf import seal as sealmod
from zhenglian.pdf.seal import SealPicture, check_picture
from zhenglian.pdf.warmup import Warmup, WarmWhileAsking, warming


class Prompter:
    """Records what the warm-up was doing when each question was asked."""

    def __init__(self, warmup_of: list[Warmup]) -> None:
        self.warmup_of = warmup_of
        self.seen: list[tuple[str, bool]] = []

    def _started(self) -> bool:
        return self.warmup_of[0]._thread is not None

    def ask_pin(self, st: Any) -> str:
        self.seen.append(("ask_pin", self._started()))
        return "PIN"

    def confirm_final_try(self, st: Any) -> bool:
        self.seen.append(("confirm_final_try", self._started()))
        return True

    def pinpad(self, st: Any) -> Any:
        self.seen.append(("pinpad", self._started()))
        return nullcontext()

    def keep_pin(self) -> bool:
        return False


def _fresh_seal(kind: str) -> SealPicture:
    return SealPicture(ph.seal_png(seal_type=kind), 41.5, 41.5, kind)


def test_the_warm_up_starts_when_the_operator_is_asked_and_is_done_on_leaving() -> None:
    seal = _fresh_seal("财务专用章")
    holder: list[Warmup] = []
    inner = Prompter(holder)
    with warming(inner, [seal]) as (asking, warmup):
        holder.append(warmup)
        assert warmup._thread is None  # nothing runs before a question is asked
        assert asking.keep_pin() is False  # everything else goes to the wrapped prompter
        assert asking.ask_pin(None) == "PIN"
        assert asking.confirm_final_try(None) is True
        with asking.pinpad(None):
            pass
    # Each question found the warm-up already started (it is started first, then asked).
    assert inner.seen == [("ask_pin", True), ("confirm_final_try", True), ("pinpad", True)]
    assert warmup._thread is not None and not warmup._thread.is_alive()  # joined on the way out
    enc = sealmod.encoded(seal)  # from the cache the warm-up filled: the same object each time
    assert sealmod.encoded(seal) is enc


def test_the_warm_up_is_joined_even_when_asking_fails() -> None:
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def extra() -> None:
        started.set()
        release.wait(30)
        finished.set()

    class Cancels(Prompter):
        def ask_pin(self, st: Any) -> str:
            super().ask_pin(st)
            started.wait(30)
            release.set()
            raise errors.PinCancelled()

    holder: list[Warmup] = []
    with pytest.raises(errors.PinCancelled), warming(Cancels(holder), extra=extra) as (asking, warmup):
        holder.append(warmup)
        asking.ask_pin(None)
    assert finished.is_set()  # the block did not end before the warm-up did


def test_a_warm_up_that_fails_leaves_the_work_to_the_signing_path() -> None:
    bad = SealPicture(b"not a picture", 40, 40, "x")
    warmup = Warmup([bad])
    warmup.start()
    warmup.start()  # idempotent
    warmup.join()
    with pytest.raises(errors.SealInvalid):
        sealmod.encoded(bad)  # the main path reports it as before


def test_check_picture_refuses_what_encoding_would_refuse_without_compressing() -> None:
    with pytest.raises(errors.SealInvalid):
        check_picture(SealPicture(b"not a picture", 40, 40, "x"))
    with pytest.raises(errors.SealInvalid):
        check_picture(SealPicture(ph.seal_png(), 420, 42, "x"))  # out of range, as encode says
    good = _fresh_seal("发票专用章")
    check_picture(good)
    check_picture(good)  # remembered: no second decode
    digest = sealmod.hashlib.sha256(good.png).hexdigest()
    assert digest in sealmod._CHECKED
    assert not any(k[0] == digest for k in sealmod._CACHE)  # checked, not compressed


def test_a_picture_the_seal_store_normalised_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.seals.model import normalise_picture

    png = normalise_picture(ph.seal_png(seal_type="人事专用章"))
    decoded: list[bytes] = []
    monkeypatch.setattr(sealmod, "_decode", lambda data: decoded.append(data))
    check_picture(SealPicture(png, 40, 40, "人事专用章"))
    assert decoded == []
    with pytest.raises(errors.SealInvalid):  # the size is still checked every time
        check_picture(SealPicture(png, 0, 40, "人事专用章"))


def test_the_wrapper_is_a_prompter_for_every_other_question() -> None:
    class Other:
        def show_error(self, error: Any) -> str:
            return "shown"

    wrapped = WarmWhileAsking(Other(), Warmup())
    assert wrapped.show_error(None) == "shown"
