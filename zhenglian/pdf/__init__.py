"""PDF signing and verification: seals placed, signed with the key, verifiable anywhere.

Modules, one concern each:

* ``geometry`` — visible-page millimetres ↔ PDF user space (crop box, /Rotate)
* ``document`` — open an input and refuse what cannot be signed, before any PIN
* ``pdftree`` — the one iterative, bounded walk of the page tree and of what
  pyHanko reads (strict or lenient is decided here; loops are refused)
* ``anchors`` — find text such as "（盖章）" (PDFium)
* ``placement`` — placement requests → widget spots (page/position, anchor,
  existing field, cross-page strips)
* ``seal`` — the seal picture encoded for PDF once
* ``appearance`` — the seal as the signature's appearance (pyHanko stamp style)
* ``sign`` — :func:`~zhenglian.pdf.sign.prepare`, :class:`~zhenglian.pdf.sign.SigningBatch`
* ``keysign`` — a signing batch on a logged-in key (the key itself signs: :mod:`zhenglian.keys`)
* ``localsign`` — local files signed with one PIN: the use case of ``zhenglian sign`` and the tray's
  documents page
* ``verify`` — :func:`~zhenglian.pdf.verify.verify_pdf` → reports per signature
  (state: valid / untrusted / modified / invalid, and why)
* ``trust`` — chains to embed and roots to trust

Importing this package is cheap; pyHanko is imported by the modules that need it.
"""
