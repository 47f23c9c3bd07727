"""SM2 keys end to end (issue 14): an SM2 key on the test token does what an RSA key does.

Every family of vendor numbers the test token speaks (vendor8000, vendor4, v8005) signs
through the product's one signing path (``zhenglian sign``, child processes as a user runs
them); every PDF is checked by us AND by BouncyCastle, and a tampered copy is rejected by both.
Probing, wrong ``[[sm2]]`` tables and keys that answer nonsense end in a typed error with no
output file, the input unchanged and no PIN try spent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import pdf as ph
from helpers.sm2pdf import tamper

from zhenglian.errors import ExitCode

pytestmark = pytest.mark.skipif(not (ph.have_poppler() and ph.have_cjk_font()),
                                reason="needs poppler-utils and fonts-noto-cjk")

FAMILIES = ("vendor8000", "vendor4", "v8005")


def _sign(run_cli, key, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("sign", *key.args(), "--key", key.serial, *args, "--pin-stdin", "--json", input=key.pin + "\n",
                   env=key.env)


def _verify(run_cli, key, pdf: Path) -> dict:  # type: ignore[no-untyped-def, type-arg]
    res = run_cli("verify", str(pdf), "--json", *key.trust(), env=key.env)
    data = json.loads(res.stdout)
    data["_rc"] = res.returncode
    return data


@pytest.mark.parametrize("family", FAMILIES)
def test_sm2_sign_anchor_and_cross_page_verified_by_us_and_bouncycastle(
        family, make_sm2_key, run_cli, bc_pdf_check, sm2_org, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = make_sm2_key(family)
    src = ph.make_contract(tmp_path / "合同.pdf", 2)
    before = ph.sha256_file(src)
    out = tmp_path / "signed.pdf"
    res = _sign(run_cli, key, str(src), "-o", str(out), "--anchor", "甲方（盖章）", "--cross-page")
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    assert made["organization"] == sm2_org.pair.sign_cert.subject.native["organization_name"]
    assert len(made["documents"][0]["signatures"][0]["spots"]) == 3  # anchor + 2 strips
    assert ph.sha256_file(src) == before
    assert key.counters() == (0, 0)

    data = _verify(run_cli, key, out)
    assert data["_rc"] == 0 and data["valid"] is True, data
    (sig,) = data["signatures"]
    assert sig["status"] == "valid" and sig["trusted"] and sig["algorithm"] == "SM2"
    assert sig["uscc"] == sm2_org.uscc
    judged = bc_pdf_check(out)
    assert judged.ok, judged.lines

    bad = tamper(out, tmp_path / "tampered.pdf")
    assert not bc_pdf_check(bad).ok
    data = _verify(run_cli, key, bad)
    assert data["valid"] is False and data["_rc"] == ExitCode.DOCUMENT


def test_sm2_sign_at_position_batch_with_one_pin(make_sm2_key, run_cli, bc_pdf_check,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    key = make_sm2_key("vendor4")
    inputs = [ph.make_contract(tmp_path / f"c{i}.pdf", 1) for i in range(3)]
    out_dir = tmp_path / "out"
    res = _sign(run_cli, key, *map(str, inputs), "--out-dir", str(out_dir), "--page", "1", "--at", "150,200")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["c0.pdf", "c1.pdf", "c2.pdf"]
    for p in sorted(out_dir.iterdir()):
        data = _verify(run_cli, key, p)
        assert data["valid"] is True, data
        spot = data["signatures"][0]["spots"][0] if "spots" in data["signatures"][0] else None
        if spot is not None:
            assert spot["page"] == 1
        assert bc_pdf_check(p).ok


# --- probing and [[sm2]] tables (in this process, through the key seam) ------------------------

V = 0x80000000
MESSAGE = b"signed attributes stand-in \xe7\xad\xbe" * 7


def _check(h, signature: bytes, openssl_sm2_verify) -> None:  # type: ignore[no-untyped-def]
    from asn1crypto import x509

    from zhenglian.pki import sm2

    point = sm2.public_point(x509.Certificate.load(h.signing_cert.info.der))
    assert sm2.verify(point, MESSAGE, signature)
    assert openssl_sm2_verify(point, MESSAGE, signature)  # an independent judge of the raw signature


def _sign_once(h, pin: str) -> tuple[bytes, object]:  # type: ignore[no-untyped-def]
    from zhenglian.keys.session import KeySession
    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens.secret import PinBuffer

    with pinops.user_session(h, PinBuffer(pin)) as session:
        ks = KeySession(h, session)
        return ks.sign(MESSAGE), ks.plan


@pytest.mark.parametrize(("family", "first", "used"), [
    ("vendor8000", V + 0x8100, V + 0x8100),
    ("vendor4", V + 4, V + 4),
    ("v8005", 0x8005000C, 0x8005000C),
])
def test_no_table_tries_the_known_family_the_token_lists(family, first, used, make_sm2_key, sm2_handle,  # type: ignore[no-untyped-def]
                                                          openssl_sm2_verify) -> None:
    from zhenglian.keys import mechanisms
    from zhenglian.keys.session import candidate_plans

    key = make_sm2_key(family)
    h = sm2_handle(key)
    assert mechanisms.key_algorithm(h.signing_cert.info.der) == "sm2"  # from the certificate, not CKA_KEY_TYPE
    plans = candidate_plans(h)
    assert plans[0].mechanism == first and all(p.algorithm == "sm2" and p.digest == "sm3" for p in plans)
    signature, plan = _sign_once(h, key.pin)
    assert plan.mechanism == used  # type: ignore[attr-defined]
    _check(h, signature, openssl_sm2_verify)
    assert candidate_plans(h)[0] == plan  # remembered for this module file: tried first from now on
    assert key.counters() == (0, 0)


@pytest.mark.parametrize(("family", "table", "used"), [
    # says the token hashes, but vendor+4 takes e: its signature fails the check, the known plan follows
    ("vendor4", '[[sm2]]\nmechanism = "0x80000004"\nhashes = "token"\n', (V + 4, False)),
    # says +0x8104 hashes: the token refuses a message that is not 32 bytes (CKR_DATA_LEN_RANGE)
    ("vendor8000", '[[sm2]]\nmechanism = 0x80008104\nhashes = "token"\noutput = "raw"\n', (V + 0x8100, True)),
    # says +0x8101 returns r‖s: a DER answer is no 64-byte r‖s, refused before any check
    ("vendor8000", '[[sm2]]\nmechanism = 0x80008101\noutput = "raw"\n', (V + 0x8100, True)),
    # says the number of another vendor: not listed by the token, never tried
    ("v8005", '[[sm2]]\nmechanism = 0x80008102\n', (0x8005000C, True)),
])
def test_a_wrong_table_entry_fails_the_check_and_the_next_candidate_signs(  # type: ignore[no-untyped-def]
        family, table, used, make_sm2_key, sm2_handle, openssl_sm2_verify) -> None:
    key = make_sm2_key(family)
    h = sm2_handle(key, table)
    signature, plan = _sign_once(h, key.pin)
    assert (plan.mechanism, plan.token_hashes) == used  # type: ignore[attr-defined]
    _check(h, signature, openssl_sm2_verify)
    assert key.counters() == (0, 0)


def test_a_right_table_entry_is_used_first(make_sm2_key, sm2_handle, openssl_sm2_verify) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.keys.session import candidate_plans

    key = make_sm2_key("vendor8000")
    h = sm2_handle(key, '[[sm2]]\nmechanism = 0x80008104\nhashes = "client"\noutput = "raw"\nverified = true\n')
    plans = candidate_plans(h)
    assert plans[0].mechanism == V + 0x8104 and "sm2test" in plans[0].name and "verified" in plans[0].name
    assert [p for p in plans[1:] if (p.mechanism, p.token_hashes) == (V + 0x8104, False)] == []  # no repeat
    signature, plan = _sign_once(h, key.pin)
    assert plan == plans[0]  # type: ignore[comparison-overlap]
    _check(h, signature, openssl_sm2_verify)


def test_a_token_that_lists_nothing_is_probed_with_every_known_plan(make_sm2_key, sm2_handle,  # type: ignore[no-untyped-def]
                                                                   openssl_sm2_verify) -> None:
    import dataclasses

    from zhenglian.keys import sm2mech

    key = make_sm2_key("vendor4")
    h = sm2_handle(key)
    h = dataclasses.replace(h, backend=Quiet(h.backend))
    signature, plan = _sign_once(h, key.pin)
    assert plan.mechanism == V + 4 and len(sm2mech.plans(None, [])) == len(sm2mech.KNOWN)  # type: ignore[attr-defined]
    _check(h, signature, openssl_sm2_verify)


def test_user_manifest_finds_the_module_and_its_wrong_table_never_makes_a_bad_document(  # type: ignore[no-untyped-def]
        make_sm2_key, run_cli, bc_pdf_check, tmp_path: Path) -> None:
    key = make_sm2_key("vendor4", manifest='[[sm2]]\nmechanism = 0x80000004\nhashes = "token"\noutput = "der"\n')
    assert key.args() == []  # no --module: <data_dir>/drivers/sm2test.toml names the module
    res = run_cli("keys", "--json", env=key.env)
    assert res.returncode == 0 and key.serial in res.stdout, res.stderr
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    out = tmp_path / "out.pdf"
    res = _sign(run_cli, key, str(src), "-o", str(out), "--page", "1", "--at", "100,100")
    assert res.returncode == 0, res.stderr
    assert _verify(run_cli, key, out)["valid"] is True
    assert bc_pdf_check(out).ok


# --- keys that answer nonsense, mechanisms nobody offers -------------------------------------

class Quiet:
    """A driver whose C_GetMechanismList says nothing (some do)."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def mechanisms(self, serial):  # type: ignore[no-untyped-def]
        return []


class Answers(Quiet):
    """A driver that lists ``offered`` and turns every signature into ``change(signature)``."""

    def __init__(self, inner, change, offered=None):  # type: ignore[no-untyped-def]
        super().__init__(inner)
        self.change, self.offered = change, offered

    def mechanisms(self, serial):  # type: ignore[no-untyped-def]
        return self.offered if self.offered is not None else self.inner.mechanisms(serial)

    def sign_raw(self, session, cka_id, mechanism, data):  # type: ignore[no-untyped-def]
        return self.change(self.inner.sign_raw(session, cka_id, mechanism, data))


def _flip(sig: bytes) -> bytes:
    b = bytearray(sig)
    b[len(b) // 2] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize(("change", "offered", "error"), [
    (_flip, None, "KeySignatureInvalid"),  # does not verify
    (lambda s: s[:-1], None, "KeySignatureInvalid"),  # wrong length
    (lambda s: s + b"\x00", None, "KeySignatureInvalid"),  # wrong length
    (lambda s: b"", None, "KeySignatureInvalid"),
    (lambda s: s, [0x1, 0x40], "MechanismUnsupported"),  # only RSA numbers: no SM2 mechanism known
])
def test_bad_answers_give_a_typed_error_and_no_file(change, offered, error, make_sm2_key, sm2_handle,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path) -> None:
    import dataclasses

    from zhenglian import errors
    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.keysign import key_batch
    from zhenglian.pdf.seal import SealPicture
    from zhenglian.tokens.secret import PinBuffer

    key = make_sm2_key("vendor4")
    h = sm2_handle(key)
    h = dataclasses.replace(h, backend=Answers(h.backend, change, offered))
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    before = src.read_bytes()
    out = tmp_path / "out.pdf"
    seal = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "测试专用章")
    with pytest.raises(errors.ZhenglianError) as exc, key_batch(h, PinBuffer(key.pin), seal=seal) as batch:
        batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
    assert type(exc.value).__name__ == error
    assert exc.value.user_message().split("\n")[0] and any("\u4e00" <= c <= "\u9fff" for c in exc.value.message_zh())
    assert not out.exists() and not list(tmp_path.glob("*.part")) and src.read_bytes() == before
    assert key.counters() == (0, 0)  # the one PIN typed was right; probing spends none


def test_a_key_whose_certificate_is_not_its_own_signs_nothing(make_sm2_key, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The token's key does not match the certificate beside it: no candidate verifies."""
    from zhenglian.reference import democa
    from zhenglian.reference.sm2soft import SM2SoftKey

    ca = democa.load_or_create_sm2("netca", tmp_path / "ca")
    from zhenglian.reference import provision

    other = ca.issue_sm2(provision.subject_for(provision.DEMO_KEYS[0]), SM2SoftKey.generate().point,
                         *_validity())
    key = make_sm2_key("vendor8000", cert_der=other.dump(), ca_certs=[ca.chain[0].dump()])
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    before = src.read_bytes()
    out = tmp_path / "out.pdf"
    res = _sign(run_cli, key, str(src), "-o", str(out), "--page", "1", "--at", "100,100")
    assert res.returncode == ExitCode.DRIVER, res.stderr
    err = res.stderr
    assert "签名与证书不符" in err and err.index("签名与证书不符") < err.index("does not match")  # Chinese first
    assert not out.exists() and src.read_bytes() == before
    assert key.counters() == (0, 0)


def _validity():  # type: ignore[no-untyped-def]
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(days=1), now + dt.timedelta(days=30)


# --- PIN on the SM2 token: the key's own counter and flags --------------------------------------

def test_sm2_pin_status_verify_lock_unlock_change(make_sm2_key, run_cli) -> None:  # type: ignore[no-untyped-def]
    key = make_sm2_key("v8005")
    wrong, new = "Wrong@Pin2026", "New@Sm2Pin2026"

    def cli(action: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return run_cli("pin", action, *key.args(), *args, "--key", key.serial, input=input, env=key.env)

    def state() -> dict:  # type: ignore[type-arg]
        r = cli("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["user_pin"]  # type: ignore[no-any-return]

    assert cli("verify", "--pin-stdin", input=key.pin + "\n").returncode == 0
    for i in range(1, 10):
        r = cli("verify", "--pin-stdin", input=wrong + "\n")
        assert r.returncode == ExitCode.WRONG_PIN and f"还可尝试 {10 - i} 次" in r.stderr, r.stderr
    assert key.counters() == (9, 0)
    st = state()
    assert st["tries_left"] == 1 and st["flags"]["pin_state"] == "final_try"  # the token's own flag
    r = cli("verify", "--pin-stdin", input=wrong + "\n")
    assert r.returncode == ExitCode.CANCELLED and key.counters() == (9, 0)  # not confirmed: no try
    r = cli("verify", "--pin-stdin", "--confirm-final-try", input=wrong + "\n")
    assert r.returncode == ExitCode.PIN_LOCKED and "已锁定" in r.stderr
    assert state()["locked"] and key.counters() == (10, 0)
    r = cli("verify", "--pin-stdin", "--confirm-final-try", input=key.pin + "\n")
    assert r.returncode == ExitCode.PIN_LOCKED and key.counters() == (10, 0)  # locked: no C_Login at all

    r = cli("unlock", "--pin-stdin", input=f"{key.so_pin}\n{new}\n{new}\n")
    assert r.returncode == 0, r.stderr
    assert key.counters() == (0, 0) and state()["flags"]["pin_state"] == "ok"
    r = cli("change", "--pin-stdin", input=f"{new}\n{key.pin}\n{key.pin}\n")
    assert r.returncode == 0, r.stderr
    assert cli("verify", "--pin-stdin", input=key.pin + "\n").returncode == 0


# --- tasks against the reference server (login with SM2, upload checked by the server) ---------

@pytest.fixture
def sm2_server(reference_server, sm2_org):  # noqa: F811  # type: ignore[no-untyped-def]
    """The reference server trusting the test SM2 CA and knowing the SM2 key's institution."""
    from asn1crypto import x509

    root, sub = sm2_org.ca.chain[-1], sm2_org.ca.chain[0]
    reference_server.store.add_ca(root.dump(), root.subject.human_friendly, "root")
    reference_server.store.add_ca(sub.dump(), sub.subject.human_friendly, "intermediate")
    org = x509.Certificate.load(sm2_org.pair.sign_cert.dump()).subject.native["organization_name"]
    reference_server.add_institution(sm2_org.uscc, org)
    # the institution's seal kept on the server (the SM2 test token holds no seal objects)
    reference_server.store.add_seal(sm2_org.uscc, f"{org}合同专用章", "合同专用章",
                                    ph.seal_png(org, "合同专用章"), 42.0, 42.0)
    reference_server.sm2_org_name = org
    return reference_server


def test_sm2_tasks_sign_all_with_one_pin(sm2_server, make_sm2_key, run_cli, bc_pdf_check,  # type: ignore[no-untyped-def]
                                         tmp_path: Path) -> None:
    key = make_sm2_key("vendor8000")
    ids = sm2_server.add_tasks(_uscc(key), sm2_server.sm2_org_name, 3,
                               kinds=("委托扣款授权书", "贷款合同"))
    env = dict(key.env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")  # login with this PIN
    res = run_cli("tasks", "sign", "--all", *key.args(), "--server", sm2_server.url, "--key", key.serial,
                  "--pin-stdin", "--json", input=key.pin + "\n", env=env)
    assert res.returncode == 0, res.stderr + res.stdout
    result = json.loads(res.stdout)
    assert sorted(t["task_id"] for t in result["tasks"]) == sorted(ids)
    assert {t["state"] for t in result["tasks"]} == {"uploaded"}
    assert sm2_server.uploads_per_task() == {i: 1 for i in ids}  # the server checked each SM2 upload
    assert key.counters() == (0, 0)
    for row in sm2_server.store.uploads():
        pdf = tmp_path / f"{row['task_id']}.pdf"
        pdf.write_bytes(sm2_server.store.read_file(row["sha256"]))
        assert bc_pdf_check(pdf).ok, row["task_id"]


def _uscc(key) -> str:  # type: ignore[no-untyped-def]
    from zhenglian.pki.cert import parse

    return parse(key.cert_der).uscc  # type: ignore[return-value]


class _Prompter:
    """A PinPrompter that types one PIN (the web-page bridge's dialogs, scripted)."""

    def __init__(self, pin: str, events: list[str]) -> None:
        self.pin, self.events = pin, events

    def locked(self, st, error) -> None:  # type: ignore[no-untyped-def]
        self.events.append("locked")

    def confirm_final_try(self, st) -> bool:  # type: ignore[no-untyped-def]
        return False

    def ask_pin(self, st):  # type: ignore[no-untyped-def]
        from zhenglian.tokens.secret import PinBuffer

        self.events.append("pin")
        return PinBuffer(self.pin)

    def pinpad(self, st):  # type: ignore[no-untyped-def]
        from contextlib import nullcontext

        return nullcontext()

    def keep_pin(self) -> bool:
        return False

    def show_error(self, error) -> None:  # type: ignore[no-untyped-def]
        self.events.append(f"error:{error.code}")


def test_sm2_bridge_job_logs_in_signs_and_uploads(sm2_server, make_sm2_key, monkeypatch,  # type: ignore[no-untyped-def]
                                                  bc_pdf_check, tmp_path: Path) -> None:
    from types import SimpleNamespace

    import httpx

    from zhenglian.bridge.jobs import DONE, BridgeJobs
    from zhenglian.bridge.protocol import SignRequest
    from zhenglian.server.api import ServerClient
    from zhenglian.server.tokenstore import TokenStore
    from zhenglian.services import Context
    from zhenglian.tasks.outbox import Outbox

    key = make_sm2_key("vendor4")
    monkeypatch.setenv("ZL_SM2TOKEN_DIR", str(key.state_dir))
    uscc = _uscc(key)
    (tid,) = sm2_server.add_tasks(uscc, sm2_server.sm2_org_name, 1, kinds=("贷款合同",))
    ctx = Context.create([str(key.module)])
    keys = [k for k in ctx.tokens.scan() if k.serial == key.serial]
    events: list[str] = []
    page = "https://sign.example.org"
    settings = SimpleNamespace(ca_bundle="", allowed_origins=[page], server_url=sm2_server.url)
    jobs = BridgeJobs(settings, ctx.tokens, lambda: list(keys), lambda info: events.append("confirm") or True,
                      lambda k: _Prompter(key.pin, events), token_store=TokenStore(use_keyring=False),
                      outbox=Outbox(tmp_path / "outbox"),
                      client_factory=lambda url: ServerClient(url, timeout=10, retries=1, backoff=0.05))
    r = httpx.post(f"{sm2_server.url}/web/api/tasks/{tid}/ticket", params={"institution": uscc})
    assert r.status_code == 200, r.text
    req = SignRequest(origin=page, server=sm2_server.url, server_origin=sm2_server.url, task_id=tid,
                      ticket=r.json()["ticket"], institution=uscc)
    job = jobs.table.create(req.origin, req.task_id)
    jobs.run(job, req)
    out = job.to_dict()
    assert out["state"] == DONE, out
    assert events == ["pin", "confirm"]  # one PIN: the SM2 login, kept for the signing
    task = sm2_server.store.task(tid)
    assert task.status == "signed" and sm2_server.uploads_per_task() == {tid: 1}
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(sm2_server.store.read_file(task.signed_sha256))
    assert bc_pdf_check(pdf).ok
    assert key.counters() == (0, 0)


# --- online renewal: an SM2 PKCS#10 request signed through the key seam, the demo EST issues SM2 ----

def test_sm2_pkcs10_and_detached_signature_made_on_the_key_verify(make_sm2_key, sm2_handle,  # type: ignore[no-untyped-def]
                                                                    openssl_sm2_verify) -> None:
    from asn1crypto import csr as acsr
    from asn1crypto import x509

    from zhenglian.keys.session import KeySession
    from zhenglian.lifecycle import pkix
    from zhenglian.pki import sm2
    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens.secret import PinBuffer

    key = make_sm2_key("vendor4")
    h = sm2_handle(key)
    cert = x509.Certificate.load(key.cert_der)
    with pinops.user_session(h, PinBuffer(key.pin)) as session:
        sign = KeySession(h, session).sign
        request = pkix.build_csr(cert.subject, cert.public_key, sign)
        auth = pkix.detached_signature(request, key.cert_der, sign)
    parsed = acsr.CertificationRequest.load(request)
    assert parsed["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    info = parsed["certification_request_info"].dump()
    assert openssl_sm2_verify(sm2.public_point(cert), info, parsed["signature"].native)
    signer, signed_at = pkix.verify_detached(auth, request)
    assert signer == key.cert_der and signed_at is not None
    with pytest.raises(pkix.PkixError):
        pkix.verify_detached(auth, request + b"x")


def test_sm2_online_renewal_same_key_then_signs_with_the_new_certificate(  # type: ignore[no-untyped-def]
        make_sm2_key, sm2_handle, sm2_org, run_cli, bc_pdf_check, tmp_path: Path) -> None:
    """The SM2 request goes to the demo EST, an SM2 certificate comes back, is checked, written beside
    the key (C_CreateObject), test-signed, and the old one removed (C_DestroyObject); a new process
    then signs with the new certificate."""
    from zhenglian.lifecycle import renew
    from zhenglian.pki.cert import parse
    from zhenglian.reference import est as est_server
    from zhenglian.tokens.secret import PinBuffer

    key = make_sm2_key("vendor8000")
    h = sm2_handle(key)
    old = parse(key.cert_der)
    stages: list[str] = []
    with est_server.serve(est_server.create_app(base=sm2_org.ca_base)) as url, PinBuffer(key.pin) as pin:
        result = renew.renew(h, pin, url, hook=stages.append, save_dir=tmp_path / "issued")
    assert stages == ["prepare", "request", "send", "check", "install", "verify", "cleanup"]  # same key
    assert result.new.key_type == "SM2" and not result.new_key and result.old_removed
    assert result.new.subject == old.subject and result.new.not_after > old.not_after
    assert not list((tmp_path / "issued").rglob("*.der"))
    assert key.counters() == (0, 0)

    res = run_cli("keys", *key.args(), "--json", env=key.env)  # a new process reads the token again
    assert res.returncode == 0, res.stderr
    assert result.new.sha256 in res.stdout and old.sha256 not in res.stdout
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    out = tmp_path / "out.pdf"
    res = _sign(run_cli, key, str(src), "-o", str(out), "--page", "1", "--at", "100,100")
    assert res.returncode == 0, res.stderr
    data = _verify(run_cli, key, out)
    assert data["valid"] is True, data
    assert bc_pdf_check(out).ok


def test_sm2_token_stores_only_certificates(make_sm2_key, sm2_handle) -> None:  # type: ignore[no-untyped-def]
    """The test token takes certificates from the application (a renewal) but never keys."""
    import pkcs11

    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens.secret import PinBuffer

    key = make_sm2_key("v8005")
    h = sm2_handle(key)
    with pinops.user_session(h, PinBuffer(key.pin), rw=True) as session:
        with pytest.raises(pkcs11.PKCS11Error):
            session.create_object({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.DATA,
                                   pkcs11.Attribute.VALUE: b"x"})
        with pytest.raises(pkcs11.PKCS11Error):  # not a certificate
            session.create_object({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
                                   pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                                   pkcs11.Attribute.VALUE: b"\x30\x03\x02\x01\x01"})
    assert not list(key.state_dir.rglob("cert-*-w*.der"))
    assert "-w" not in (key.state_dir / f"token-{key.serial}" / "token.ini").read_text()


# --- the demo: an SM2 key on the SM2 token, found through drivers/sm2token.toml ------------------

def test_demo_init_makes_an_sm2_key_that_signs_and_the_server_seeds_its_tasks(bc_pdf_check,  # type: ignore[no-untyped-def]
                                                                                tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from zhenglian.reference.provision import SM2_DEMO_KEYS

    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "ZL_SM2TOKEN_DIR")}
    env["ZHENGLIAN_HOME"] = str(home)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", *args], input=input, capture_output=True, text=True,
                              env=env, timeout=300, cwd=Path(__file__).resolve().parent.parent)

    spec = SM2_DEMO_KEYS[0]
    res = run("zhenglian", "demo", "init", "--json")
    assert res.returncode == 0, res.stderr
    made = {k["label"]: k for k in json.loads(res.stdout)}
    assert made[spec.label]["algorithm"] == "SM2" and made[spec.label]["uscc"] == spec.uscc
    env["SOFTHSM2_CONF"] = str(home / "softhsm" / "softhsm2.conf")
    res = run("zhenglian", "keys", "--json")
    assert res.returncode == 0, res.stderr
    (sm2_key,) = [k for k in json.loads(res.stdout)["keys"] if k["label"] == spec.label]
    assert "SM2" in json.dumps(sm2_key) and spec.uscc in json.dumps(sm2_key)
    # the SM2-signed GB/T 38540 seals on the token: read before any PIN, their SM2 signature checked
    res = run("zhenglian", "seals", "--key", spec.label, "--json")
    assert res.returncode == 0, res.stderr
    seals = [s for k in json.loads(res.stdout)["keys"] for c in k["certificates"] for s in c["seals"]]
    assert sorted(s["type"] for s in seals) == sorted(spec.seal_names)
    assert {s["signature"] for s in seals} == {"valid"} and {s["source"] for s in seals} == {"key"}

    src = ph.make_contract(tmp_path / "in.pdf", 2)
    out = tmp_path / "out.pdf"
    res = run("zhenglian", "sign", str(src), "-o", str(out), "--key", spec.label, "--anchor", "甲方（盖章）",
              "--cross-page", "--seal", f"{spec.organization}合同专用章", "--pin-stdin", input=spec.user_pin + "\n")
    assert res.returncode == 0, res.stderr
    res = run("zhenglian", "verify", str(out), "--json")  # demo mode trusts the demo roots, SM2 too
    data = json.loads(res.stdout)
    assert res.returncode == 0 and data["valid"] and data["signatures"][0]["algorithm"] == "SM2", data
    assert data["signatures"][0]["seal"] == f"{spec.organization}合同专用章", data
    assert bc_pdf_check(out).ok

    seeded = run("zhenglian.reference.server", "demo-seed", "--data", str(tmp_path / "server"), "--tasks", "2")
    assert seeded.returncode == 0, seeded.stderr
    summary = json.loads(seeded.stdout)
    assert summary["tasks"][spec.uscc] == 2
    assert any("SM2" in subject for subject in summary["trusted_roots"])


# --- forms, broken chains ------------------------------------------------------------------------

def test_sm2_key_forms(make_sm2_key, sm2_org, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = make_sm2_key("vendor4")
    out = tmp_path / "renew.pdf"
    res = run_cli("forms", "renew", *key.args(), "--key", key.serial, "--years", "2", "-o", str(out), env=key.env)
    assert res.returncode == 0, res.stderr
    text = ph.pdf_text(out) if hasattr(ph, "pdf_text") else _pdftotext(out)
    assert "机构数字证书申请表" in text and sm2_org.uscc in text
    assert "东莞市国密示范科技有限公司" in text


def _pdftotext(pdf: Path) -> str:
    import subprocess

    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60).stdout


def test_sm2_key_with_a_forged_issuing_ca_signs_but_verify_says_untrusted(  # type: ignore[no-untyped-def]
        make_sm2_key, sm2_org, run_cli, bc_pdf_check, tmp_path: Path) -> None:
    """The issuing CA certificate on the key is forged (same names, another key): the signature
    itself is sound (BouncyCastle agrees), but the chain is broken and verify says so (exit 11)."""
    from zhenglian.reference import democa

    forged = democa.create_sm2("netca")
    ca = sm2_org.ca
    forged_sub = democa.SM2DemoCA("netca", ca.root_key, ca.root_cert, forged.sub_key, ca.sub_cert)
    # the key's certificate is signed by a key that is not the issuing CA's
    cert = forged_sub.issue_sm2(sm2_org.pair.sign_cert.subject, sm2_org.pair.sign_key.point, *_validity())
    key = make_sm2_key("vendor8000", cert_der=cert.dump())
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    out = tmp_path / "out.pdf"
    res = _sign(run_cli, key, str(src), "-o", str(out), "--page", "1", "--at", "100,100")
    assert res.returncode == 0, res.stderr
    data = _verify(run_cli, key, out)
    assert data["_rc"] == ExitCode.DOCUMENT and data["valid"] is False, data
    (sig,) = data["signatures"]
    assert sig["intact"] and not sig["trusted"] and sig["algorithm"] == "SM2"
    assert bc_pdf_check(out).ok  # the CMS signature itself verifies: the chain is what is broken


class EmptyIdToken(Quiet):
    """A token whose hashing mechanisms compute Z with an EMPTY user ID (the usual vendor mistake);
    mechanisms that take e sign what they are given."""

    TOKEN_HASHES = {V + 0x8100: "raw", V + 0x8101: "der", V + 0x8102: "raw", V + 0x8103: "der", 0x8005000C: "der"}

    def __init__(self, inner, soft_key):  # type: ignore[no-untyped-def]
        super().__init__(inner)
        self.soft_key = soft_key

    def mechanisms(self, serial):  # type: ignore[no-untyped-def]
        return self.inner.mechanisms(serial)

    def sign_raw(self, session, cka_id, mechanism, data):  # type: ignore[no-untyped-def]
        from zhenglian.pki import sm2

        form = self.TOKEN_HASHES.get(mechanism)
        if form is None:
            return self.inner.sign_raw(session, cka_id, mechanism, data)
        der = self.soft_key.sign(data, uid=b"")
        return sm2.der_to_raw(der) if form == "raw" else der


@pytest.mark.parametrize(("family", "outcome"), [("vendor8000", V + 0x8104), ("v8005", "KeySignatureInvalid")])
def test_a_token_hashing_with_an_empty_id_never_makes_a_bad_document(  # type: ignore[no-untyped-def]
        family, outcome, make_sm2_key, sm2_handle, sm2_org, tmp_path: Path) -> None:
    """Its own-hash signatures fail the check (they verify only with an empty ID); where the token
    also signs a client-computed e, that plan signs; where it does not, a typed error, no file."""
    import dataclasses

    from zhenglian import errors
    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.keysign import key_batch
    from zhenglian.pdf.seal import SealPicture
    from zhenglian.pdf.verify import verify_pdf
    from zhenglian.tokens.secret import PinBuffer

    key = make_sm2_key(family)
    h = sm2_handle(key)
    h = dataclasses.replace(h, backend=EmptyIdToken(h.backend, sm2_org.pair.sign_key))
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    before = src.read_bytes()
    out = tmp_path / "out.pdf"
    seal = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "测试专用章")
    if isinstance(outcome, str):
        with pytest.raises(errors.KeySignatureInvalid), key_batch(h, PinBuffer(key.pin), seal=seal) as batch:
            batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
        assert not out.exists() and src.read_bytes() == before
    else:
        with key_batch(h, PinBuffer(key.pin), seal=seal) as batch:
            batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
            assert batch.signer.session.plan.mechanism == outcome  # type: ignore[attr-defined]
        from asn1crypto import x509

        (report,) = verify_pdf(out.read_bytes(), [x509.Certificate.load(sm2_org.ca.chain[-1].dump())])
        assert report.intact and report.valid
    assert key.counters() == (0, 0)


def test_a_key_without_a_known_sm2_mechanism_is_refused_before_the_pin(make_sm2_key, sm2_handle) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from zhenglian import errors

    key = make_sm2_key("vendor4")
    h = sm2_handle(key)
    h.check_usable()  # the token lists V+4: fine
    bare = dataclasses.replace(h, backend=Answers(h.backend, lambda s: s, [0x1, 0x40]))
    with pytest.raises(errors.MechanismUnsupported) as exc:
        bare.check_usable()
    assert "SM2" in exc.value.message_en() and any("\u4e00" <= c <= "\u9fff" for c in exc.value.message_zh())
    assert key.counters() == (0, 0)
