"""Anchoring the register with a real key on SoftHSM, the way the signing path will do it.

The batch's own PKCS#11 signer (pyHanko's, the one that signs the PDFs) signs
the head; the anchor is then checked with ``cryptography`` and independently
with ``openssl``.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.pdf import key_batch
from helpers.register import make_use

from zhenglian.register import Register, chain


@pytest.mark.parametrize("label", ["SZCA-DEMO"])
def test_anchor_signed_by_the_key_verifies(demo_keys, register_path: Path, tmp_path: Path, label: str) -> None:
    with Register.open(register_path) as reg:
        for i in range(5):
            reg.record(make_use(i))
        with key_batch(label) as batch:
            cert_der = batch.identity.certificate.dump()
            reg.anchor(lambda m: asyncio.run(batch.signer.async_sign_raw(m, "sha256")), cert_der)
        report = reg.verify()
        assert report.ok and [a.result for a in report.anchors] == ["good"]
        anchor = reg._conn.execute("SELECT seq, head_hash, signature, algorithm FROM anchors").fetchone()
        message = chain.anchor_message(reg.register_id, anchor[0], anchor[1])

    if shutil.which("openssl"):  # a second, independent judge of the anchor's signature
        (tmp_path / "cert.der").write_bytes(cert_der)
        (tmp_path / "msg").write_bytes(message)
        (tmp_path / "sig").write_bytes(anchor[2])
        subprocess.run(["openssl", "x509", "-inform", "DER", "-in", tmp_path / "cert.der", "-pubkey", "-noout",
                        "-out", tmp_path / "pub.pem"], check=True)
        checked = subprocess.run(["openssl", "dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature",
                                  tmp_path / "sig", tmp_path / "msg"], capture_output=True, text=True)
        assert checked.returncode == 0 and "Verified OK" in checked.stdout, checked.stderr
