"""Seals: the model, the GB/T 38540 structure, the seal maker, and where seals come from.

For stamping, get the seals of the certificate you sign with::

    from zhenglian.seals.store import seals_for_key
    with module.session(key.serial) as session:          # no PIN needed
        catalog = seals_for_key(session, cert.info.der)
    seal = catalog.usable()[0]
    seal.image      # RGBA PIL image, decoded once
    seal.width_mm   # printed size

Modules: :mod:`.model` (Seal), :mod:`.ses` (SESeal build/parse/verify),
:mod:`.render` (round seal maker), :mod:`.store` (key, server, imported files).
Submodules are imported on use so that importing this package stays cheap.
"""
