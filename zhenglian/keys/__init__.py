"""Where a key signs.

- :mod:`~zhenglian.keys.handle` — :class:`KeyHandle`: one key as the layers above hold it
  (backend, key facts, driver manifest, signing certificate, CA certificates);
- :mod:`~zhenglian.keys.backend` — the narrow interface a key library offers (PKCS#11 today,
  GM/T 0016 SKF beside it);
- :mod:`~zhenglian.keys.mechanisms` — the signing mechanism, chosen from the token's own list;
- :mod:`~zhenglian.keys.session` — a logged-in key session that signs and checks every
  signature against the certificate before anyone may use it;
- :mod:`~zhenglian.keys.signer` — that session as a pyHanko ``Signer`` (CMS for PDFs).
"""
