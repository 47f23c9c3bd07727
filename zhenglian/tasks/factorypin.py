"""The factory PIN is not a PIN to sign with.

A CA that ships its keys with a published PIN (NETCA: 12345678, ``[pin] initial`` in its
driver file) must not have that PIN used for signing: anyone who reads the CA's leaflet
could sign.  :class:`RefuseFactoryPin` wraps a prompter: a PIN typed that equals the
factory PIN is wiped at once and :class:`~zhenglian.errors.InitialPinInUse` is raised —
nothing reaches the key — and the caller opens the PIN change (the tray does so at once).
"""

from __future__ import annotations

from typing import Any

from zhenglian import errors
from zhenglian.tokens.secret import PinBuffer


def factory_pin(manifest: Any) -> str | None:
    pin = getattr(manifest, "pin", None)
    initial = getattr(pin, "initial", None)
    return initial if isinstance(initial, str) and initial else None


class RefuseFactoryPin:
    """A PinPrompter that passes everything through except the factory PIN."""

    def __init__(self, inner: Any, manifest: Any) -> None:
        self.inner = inner
        self.initial = factory_pin(manifest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def ask_pin(self, st: Any) -> PinBuffer | None:
        pin = self.inner.ask_pin(st)
        if pin is not None and self.initial is not None and not st.so:
            factory = PinBuffer(self.initial)
            try:
                same = pin.equals(factory)
            finally:
                factory.wipe()
            if same:
                pin.wipe()
                raise errors.InitialPinInUse()
        return pin
