"""Deployment defaults (zhenglian.deployment): read-only files from the installer or administrator,
bounded and validated like everything from outside; the user's settings override them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhenglian import deployment, paths
from zhenglian.config import Settings


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_shipped_file_presets_the_dongguan_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(deployment.ENV, raising=False)
    shipped = paths.install_root() / "config" / "defaults.json"
    assert shipped in deployment.candidate_files()
    values, problems = deployment.read_file(shipped)
    assert problems == [] and values["server_url"].startswith("https://") and "dggjj.dg.gov.cn" in values["server_url"]


def test_later_files_override_earlier_ones_and_the_user_overrides_all(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.json", {"server_url": "https://a.example.org", "timestamp_url": "http://tsa.example.org"})
    b = _write(tmp_path / "b.json", {"server_url": "https://b.example.org", "_about": "notes are ignored"})
    d = deployment.load([a, b, tmp_path / "missing.json"])
    assert d.values == {"server_url": "https://b.example.org", "timestamp_url": "http://tsa.example.org"}
    assert d.problems == [] and d.sources["server_url"] == str(b)
    user = tmp_path / "settings.json"
    s = Settings.load(user, defaults=d)
    assert s.server_url == "https://b.example.org" and s.deployed("server_url") == "https://b.example.org"
    s.server_url = "https://mine.example.org"
    s.save(user)
    again = Settings.load(user, defaults=d)
    assert again.server_url == "https://mine.example.org" and again.timestamp_url == "http://tsa.example.org"
    assert "timestamp_url" not in json.loads(user.read_text(encoding="utf-8"))  # follows the deployment


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "JSON"),
    (b"[1, 2]", "object"),
    (b"[" * 5000 + b"]" * 5000, "JSON"),
    (b'{"server_url": "' + b"x" * (70 * 1024) + b'"}', "too large"),
    (json.dumps({"server_url": 42}).encode(), "wrong type"),
    (json.dumps({"server_url": "ftp://x.example.org"}).encode(), "address"),
    (json.dumps({"server_url": "https://x.example.org/a b"}).encode(), "address"),
    (json.dumps({"server_url": "http://x.example.org"}).encode(), "HTTPS"),
    (json.dumps({"est_url": "HTTP://ca.example.org/.well-known/est"}).encode(), "HTTPS"),
    (json.dumps({"pin": "12345678"}).encode(), "unknown setting"),
    (json.dumps({"task_poll_s": 0}).encode(), "range"),
    (json.dumps({"allowed_origins": ["https://ok.example.org", 3]}).encode(), "wrong type"),
    (b"\xff\xfe{}", "JSON"),
])
def test_a_bad_file_is_reported_and_skipped_never_fatal(tmp_path: Path, content: bytes, problem: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    good = _write(tmp_path / "good.json", {"timestamp_url": "https://tsa.example.org"})
    d = deployment.load([good, bad])
    assert d.values.get("timestamp_url") == "https://tsa.example.org"
    assert "server_url" not in d.values and "est_url" not in d.values and "pin" not in d.values
    assert len(d.problems) == 1 and problem in d.problems[0] and str(bad) in d.problems[0]
    s = Settings.load(tmp_path / "none.json", defaults=d)  # the settings still load
    assert s.server_url == "" and s.timestamp_url == "https://tsa.example.org"


def test_one_bad_value_skips_only_that_value(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.json", {"server_url": "https://ok.example.org", "language": "fr_FR"})
    d = deployment.load([f])
    assert d.values == {"server_url": "https://ok.example.org"} and len(d.problems) == 1


def test_env_names_the_one_file_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _write(tmp_path / "d.json", {"server_url": "https://env.example.org"})
    monkeypatch.setenv(deployment.ENV, str(f))
    assert deployment.candidate_files() == [f]
    assert Settings.load(tmp_path / "none.json").server_url == "https://env.example.org"
    monkeypatch.setenv(deployment.ENV, "")
    assert deployment.candidate_files() == [] and Settings.load(tmp_path / "none.json").server_url == ""


def test_editing_a_list_setting_never_edits_the_deployment(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.json", {"allowed_origins": ["https://page.example.org"]})
    d = deployment.load([f])
    s = Settings.load(tmp_path / "none.json", defaults=d)
    s.allowed_origins.append("https://other.example.org")
    assert d.values["allowed_origins"] == ["https://page.example.org"]


def test_doctor_reports_the_preset_and_a_bad_file_without_failing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = _write(tmp_path / "good.json", {"server_url": "https://preset.example.org"})
    res = run_cli("doctor", env={deployment.ENV: str(good)})
    assert res.returncode == 0, res.stderr
    assert "https://preset.example.org" in res.stdout and str(good) in res.stdout
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{broken")
    res = run_cli("doctor", env={deployment.ENV: str(bad)})
    assert res.returncode == 0, res.stderr  # a bad deployment file never stops the client
    assert "已跳过" in res.stdout and "bad.json" in res.stdout and "JSON" in res.stdout


def test_diagnostics_page_names_the_preset_in_chinese(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from helpers.ui import foreign_words

    from zhenglian.ui import i18n
    from zhenglian.ui.diagnostics_view import render

    report = {"version": "0", "os": "Linux", "python": "3", "packages": {}, "drivers": [], "user_modules": [],
              "manifest_errors": [], "keys": [], "usb_devices": [], "usb_without_driver": [], "paths": {},
              "deployment": {"values": {"server_url": "https://preset.example.org"},
                             "sources": {"server_url": "/etc/zhenglian/defaults.json"},
                             "problems": ["/opt/x/defaults.json: 不是有效的 JSON / not valid JSON"]}}
    i18n.install_translator(qapp, "zh_CN")
    try:
        text = render(report)
    finally:
        i18n.install_translator(qapp, "en_US")
    assert "安装程序预设" in text and "签署服务器: https://preset.example.org" in text
    assert "已跳过 /opt/x/defaults.json：不是有效的 JSON" in text and "not valid" not in text
    section = text[text.index("安装程序预设"):text.index("已跳过")]
    assert not foreign_words([section])


def test_plain_http_is_accepted_only_for_this_machine_and_the_time_stamp_authority(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.json", {"server_url": "http://127.0.0.1:8443", "est_url": "http://[::1]:9/est",
                                     "timestamp_url": "http://tsa.example.org"})
    d = deployment.load([f])
    assert d.problems == [] and d.values["server_url"] == "http://127.0.0.1:8443" and len(d.values) == 3


@pytest.mark.parametrize("file_at_start", [True, False])
def test_saving_writes_only_what_this_process_changed(tmp_path: Path, file_at_start: bool) -> None:
    """The tray (started with or without a settings file) saves a flag after a command line set the
    server: the server the command line set stays, and so does every value the tray changed."""
    user = tmp_path / "settings.json"
    if file_at_start:
        _write(user, {"server_url": "https://old.example.org", "task_poll_s": 30, "newer_version_key": 1})
    tray = Settings.load(user, defaults=deployment.Defaults())
    cli = Settings.load(user, defaults=deployment.Defaults())
    cli.server_url = "https://127.0.0.1:8443"
    cli.demo = True
    cli.save(user)
    tray._extra["tray_notice_shown"] = True
    tray.task_poll_s = 90
    tray.save(user)
    again = Settings.load(user, defaults=deployment.Defaults())
    assert (again.server_url, again.demo, again.task_poll_s) == ("https://127.0.0.1:8443", True, 90)
    assert again._extra.get("tray_notice_shown") is True
    assert again._extra.get("newer_version_key") == (1 if file_at_start else None)
    tray.server_url = "https://mine.example.org"  # a value the tray changes later is still written
    tray.save(user)
    assert Settings.load(user, defaults=deployment.Defaults()).server_url == "https://mine.example.org"


def test_a_settings_file_that_no_longer_reads_is_replaced_whole(tmp_path: Path) -> None:
    user = tmp_path / "settings.json"
    s = Settings.load(user, defaults=deployment.Defaults())
    user.write_bytes(b"{broken")
    s.server_url = "https://mine.example.org"
    s.save(user)
    assert Settings.load(user, defaults=deployment.Defaults()).server_url == "https://mine.example.org"


def test_a_value_the_operator_confirms_is_written_even_when_it_is_what_the_app_read(tmp_path: Path) -> None:
    """The settings dialog names what it shows: the server the operator picks again is saved, over
    the one a command line wrote after the app had read the file."""
    user = _write(tmp_path / "settings.json", {"server_url": "https://a.example.org"})
    tray = Settings.load(user, defaults=deployment.Defaults())
    cli = Settings.load(user, defaults=deployment.Defaults())
    cli.server_url = "https://b.example.org"
    cli.save(user)
    tray.server_url = "https://a.example.org"  # what the dialog shows and the operator confirms
    tray.save(user, chosen=("server_url",))
    assert Settings.load(user, defaults=deployment.Defaults()).server_url == "https://a.example.org"


def test_a_settings_file_deleted_meanwhile_gets_only_what_was_changed_since(tmp_path: Path) -> None:
    """An operator who deletes settings.json to start afresh while the tray runs does not get the
    old values back with the tray's next flag."""
    user = _write(tmp_path / "settings.json", {"server_url": "https://old.example.org", "task_poll_s": 30})
    tray = Settings.load(user, defaults=deployment.Defaults())
    user.unlink()
    tray._extra["tray_notice_shown"] = True
    tray.save(user)
    assert json.loads(user.read_text(encoding="utf-8")) == {"tray_notice_shown": True}
