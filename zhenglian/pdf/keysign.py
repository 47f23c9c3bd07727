"""Sign PDFs with the UKey: a :class:`~zhenglian.pdf.sign.SigningBatch` on a logged-in key session.

:func:`precheck` needs no PIN (certificate validity, then the one PIN gate);
:func:`key_batch` logs in once and yields a batch whose signer is the key
itself (:class:`~zhenglian.keys.signer.KeySigner`: mechanism from the token,
every signature checked against the certificate).  The session is logged out
and closed when the batch ends, whatever happens.  :func:`batch_on` is the
same on a session the caller has already logged in (the task batch, whose
login also serves the signing server).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from zhenglian.keys.handle import KeyHandle
from zhenglian.pdf.seal import SealLike
from zhenglian.pdf.sign import SignerIdentity, SigningBatch, check_certificate
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer


def precheck(h: KeyHandle, *, confirmed_final_try: bool = False, now: datetime | None = None) -> pinops.PinStatus:
    """Everything about the key that can refuse signing before the PIN is asked."""
    h.check_usable(now)
    return pinops.gate(h, confirmed_final_try=confirmed_final_try)


@contextmanager
def batch_on(h: KeyHandle, session: Any, identity: SignerIdentity | None = None, *,
             seal: SealLike | None = None, timestamp_url: str | None = None) -> Iterator[SigningBatch]:
    """A signing batch on a session the caller has logged in."""
    from zhenglian.keys.session import KeySession
    from zhenglian.keys.signer import KeySigner

    identity = identity or h.identity(fetch_aia=False)
    with SigningBatch(KeySigner(KeySession(h, session), identity), identity, seal=seal,
                      timestamp_url=timestamp_url) as batch:
        yield batch


@contextmanager
def key_batch(h: KeyHandle, pin: PinBuffer | None, *, seal: SealLike | None = None,
              timestamp_url: str | None = None, identity: SignerIdentity | None = None,
              confirmed_final_try: bool = False) -> Iterator[SigningBatch]:
    """Log in once and sign many documents; logs out on exit."""
    identity = identity or h.identity()
    check_certificate(identity.info)
    with pinops.user_session(h, pin, confirmed_final_try=confirmed_final_try) as session, \
            batch_on(h, session, identity, seal=seal, timestamp_url=timestamp_url) as batch:
        yield batch
