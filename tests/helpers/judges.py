"""Independent judges of SM2 signatures, as pytest fixtures (a plugin module).

Our own code must not be the only judge of what it produces:

- ``bc_pdf_check(path) -> JudgeResult``: BouncyCastle (Debian ``libbcprov-java``
  ``libbcpkix-java`` and the machine's JDK) verifies every CMS signature of a
  PDF over its /ByteRange; the checker ``tests/judges/SM2PdfCheck.java`` is
  compiled once per session.
- ``openssl_sm2_verify(point, message, der_sig, uid=...) -> bool``:
  ``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:…``.

Missing Java/BouncyCastle skips the test on a developer machine and fails it
when ``CI`` is set (CI must run the judges).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.requires import require

JAVA_SRC = Path(__file__).resolve().parent.parent / "judges" / "SM2PdfCheck.java"
BC_JARS = ("bcprov.jar", "bcpkix.jar", "bcutil.jar")
JAVA_DIR = Path(os.environ.get("ZHENGLIAN_BC_JARS", "/usr/share/java"))


@dataclass(frozen=True)
class JudgeResult:
    ok: bool
    lines: list[str]


def _missing(why: str) -> None:
    require(False, f"independent SM2 judge unavailable: {why}")


@pytest.fixture(scope="session")
def bc_pdf_check() -> Iterator[Callable[[Path], JudgeResult]]:
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        _missing("no JDK (javac/java)")
    jars = [JAVA_DIR / j for j in BC_JARS]
    absent = [str(j) for j in jars if not j.exists()]
    if absent:
        _missing("BouncyCastle jars missing: " + ", ".join(absent) + " (apt install libbcprov-java libbcpkix-java)")
    cp = ":".join(str(j) for j in jars)
    with tempfile.TemporaryDirectory(prefix="zl-bc-judge-") as out:
        built = subprocess.run([javac, "-nowarn", "-cp", cp, "-d", out, str(JAVA_SRC)],
                               capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            pytest.fail("cannot compile the BouncyCastle judge:\n" + built.stderr)

        def check(pdf: Path) -> JudgeResult:
            run = subprocess.run([java, "-cp", f"{out}:{cp}", "SM2PdfCheck", str(pdf)],
                                 capture_output=True, text=True, timeout=300)
            return JudgeResult(run.returncode == 0, (run.stdout + run.stderr).splitlines())

        yield check


@pytest.fixture(scope="session")
def openssl_sm2_verify() -> Callable[..., bool]:
    if not shutil.which("openssl"):
        _missing("no openssl")
    from asn1crypto import keys

    def verify(point: bytes, message: bytes, signature_der: bytes, uid: bytes = b"1234567812345678") -> bool:
        spki = keys.PublicKeyInfo({
            "algorithm": {"algorithm": "1.2.840.10045.2.1",
                          "parameters": keys.ECDomainParameters(name="named", value="1.2.156.10197.1.301")},
            "public_key": point,
        }).dump()
        with tempfile.TemporaryDirectory(prefix="zl-ossl-") as d:
            dd = Path(d)
            (dd / "pub.der").write_bytes(spki)
            (dd / "msg").write_bytes(message)
            (dd / "sig").write_bytes(signature_der)
            run = subprocess.run(
                ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", str(dd / "pub.der"),
                 "-rawin", "-digest", "sm3", "-pkeyopt", f"distid:{uid.decode('latin-1')}",
                 "-in", str(dd / "msg"), "-sigfile", str(dd / "sig")],
                capture_output=True, text=True, timeout=60)
        if run.returncode not in (0, 1):
            raise AssertionError("openssl pkeyutl failed: " + run.stderr)
        return run.returncode == 0 and "Signature Verified Successfully" in run.stdout

    return verify
