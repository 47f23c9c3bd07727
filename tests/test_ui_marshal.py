"""zhenglian.ui.marshal.GuiCaller: worker threads run functions on the GUI thread (pytest-qt, offscreen)."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from zhenglian import errors  # noqa: E402
from zhenglian.ui.marshal import GuiCaller  # noqa: E402


def _in_worker(fn):  # type: ignore[no-untyped-def]
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_call_from_a_worker_runs_on_the_gui_thread_and_returns(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    gui = GuiCaller()
    main = threading.current_thread()
    t, out = _in_worker(lambda: gui.call(lambda: (threading.current_thread() is main, 42)))
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
    assert out == {"result": (True, 42)}


def test_call_from_a_worker_raises_the_functions_error_there(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    gui = GuiCaller()

    def fail() -> None:
        raise errors.SignDeclined()

    t, out = _in_worker(lambda: gui.call(fail))
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
    assert isinstance(out.get("error"), errors.SignDeclined)


def test_call_on_the_gui_thread_runs_at_once(qapp) -> None:  # type: ignore[no-untyped-def]
    assert GuiCaller().call(lambda: "now") == "now"


def test_post_from_a_worker_runs_later_on_the_gui_thread(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    gui = GuiCaller()
    main = threading.current_thread()
    ran: list[bool] = []
    t, _ = _in_worker(lambda: gui.post(lambda: ran.append(threading.current_thread() is main)))
    t.join(10)
    assert not t.is_alive() and ran == []  # the worker did not wait
    qtbot.waitUntil(lambda: ran == [True], timeout=10000)


def test_post_on_the_gui_thread_runs_later_not_inline(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    gui = GuiCaller()
    ran: list[str] = []
    gui.post(lambda: ran.append("posted"))
    ran.append("after post")
    qtbot.waitUntil(lambda: len(ran) == 2, timeout=10000)
    assert ran == ["after post", "posted"]


def test_a_stopped_caller_skips_calls_and_the_worker_gives_up(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    stop.set()
    gui = GuiCaller(stop)
    ran: list[int] = []
    t, out = _in_worker(lambda: gui.call(lambda: ran.append(1)))
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
    assert isinstance(out.get("error"), errors.SignDeclined) and ran == []
