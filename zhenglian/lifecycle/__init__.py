"""Certificate lifecycle: expiry reminders, online renewal, the CA's paper forms.

No Qt here: the tray app and the command line call the same functions.

- :func:`check_usable` — refuse an expired / not-yet-valid certificate
  before any PIN is asked (every signer calls it);
- :mod:`.store` — the certificates seen so far and their reminder state
  (:class:`~.store.CertificateStore`: ``remember``, ``due``, ``mark_shown``,
  ``snooze``, ``banners``);
- :mod:`.service` — the CA's paper route for an expired certificate (form,
  fee, address, hotline) from the driver manifest;
- :mod:`.renew` — online renewal of a valid certificate (EST simplereenroll);
- :mod:`.forms` — the CA's service forms as printable A4 PDFs.

Submodules are imported on use, so importing this package stays cheap.
"""

from zhenglian.lifecycle.validity import check_usable

__all__ = ["check_usable"]
