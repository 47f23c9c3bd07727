"""Expiry reminders on a controlled clock: each threshold once, across restarts, key not inserted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers.lifecycle import DAY, T0, Clock, make_cert, make_keyinfo

from zhenglian import errors
from zhenglian.lifecycle import check_usable, schedule
from zhenglian.lifecycle.store import CertificateStore


def fresh(file: Path, clock: Clock, days=(90, 30, 15, 7, 3, 1)) -> CertificateStore:  # type: ignore[no-untyped-def]
    """A new store object reading the file from disk, as after a restart."""
    return CertificateStore(file, thresholds=days, clock=clock)


def run_schedule(file: Path, not_after: dt.datetime, start: dt.datetime, step: dt.timedelta,
                 until: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """Walk the clock; at each tick a *new* store (restart) shows what is due and marks it shown."""
    clock = Clock(start)
    fired: list[tuple[int, dt.datetime]] = []
    while clock.now <= until:
        store = fresh(file, clock)
        for r in store.due():
            fired.append((r.threshold, clock.now))
            store.mark_shown(r)
        clock.now += step
    return fired


def test_each_threshold_fires_once_across_restarts_for_a_key_not_inserted(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    not_after = T0 + 120 * DAY
    info = make_cert(not_after)
    fresh(file, Clock(T0)).remember(make_keyinfo("K1", info))
    # From now on the key stays in the drawer: only the remembered store speaks.
    fired = run_schedule(file, not_after, T0, dt.timedelta(hours=6), not_after + 3 * DAY)
    assert [t for t, _ in fired] == [90, 30, 15, 7, 3, 1, 0]
    for threshold, when in fired:
        if threshold:
            # It fires within one tick (6 h) of crossing the threshold, not before.
            crossing = not_after - threshold * DAY
            assert crossing <= when < crossing + dt.timedelta(hours=6)
        else:
            assert not_after < when <= not_after + dt.timedelta(hours=6)


def test_a_key_first_seen_late_gets_one_reminder_not_several(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    not_after = T0 + 20 * DAY
    store = fresh(file, Clock(T0))
    store.remember(make_keyinfo("K2", make_cert(not_after)))
    due = store.due()
    assert [(r.threshold, r.kind, r.days_left) for r in due] == [(30, "expiring", 20)]
    fired = run_schedule(file, not_after, T0, DAY, not_after + DAY)
    assert [t for t, _ in fired] == [30, 15, 7, 3, 1, 0]


def test_configurable_thresholds_from_settings(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    not_after = T0 + 50 * DAY
    clock = Clock(T0)
    CertificateStore(file, thresholds=[10, 45, 0, -3], clock=clock).remember(make_keyinfo("K3", make_cert(not_after)))
    seen = []
    while clock.now <= not_after + DAY:
        store = CertificateStore(file, thresholds=[10, 45, 0, -3], clock=clock)
        for r in store.due():
            seen.append(r.threshold)
            store.mark_shown(r)
        clock.now += DAY
    assert seen == [45, 10, 0]


def test_remind_later_comes_back_after_a_day_or_at_the_next_threshold(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    not_after = T0 + 30 * DAY + dt.timedelta(hours=12)  # 30-day threshold crossed 12 h from T0
    clock = Clock(T0 + dt.timedelta(hours=13))
    store = fresh(file, clock)
    store.remember(make_keyinfo("K4", make_cert(not_after)))
    (r,) = store.due()
    assert r.threshold == 30
    until = store.snooze(r)
    assert until == clock.now + DAY
    clock.now += dt.timedelta(hours=23)
    assert fresh(file, clock).due() == []  # snoozed, across a restart
    clock.now += dt.timedelta(hours=1)
    (again,) = fresh(file, clock).due()
    assert again.repeat and again.threshold == 30
    fresh(file, clock).mark_shown(again)
    assert fresh(file, clock).due() == []
    # Close to the next threshold, a snooze lasts only until that threshold.
    clock.now = not_after - 15 * DAY - dt.timedelta(hours=2)
    assert fresh(file, clock).due() == []
    clock.now = not_after - 15 * DAY
    (r15,) = fresh(file, clock).due()
    assert r15.threshold == 15 and not r15.repeat
    clock.now = not_after - 7 * DAY - dt.timedelta(hours=3)
    fresh(file, clock).mark_shown(r15)
    s = fresh(file, clock)
    s.mark_shown(r15)  # no effect twice
    until = s.snooze(r15)
    assert until == not_after - 7 * DAY


def test_renewed_certificate_supersedes_the_old_one(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    clock = Clock(T0)
    old = make_cert(T0 + 10 * DAY)
    store = fresh(file, clock)
    store.remember(make_keyinfo("K5", old))
    assert len(store.due()) == 1
    new = make_cert(T0 + 375 * DAY)
    store.remember(make_keyinfo("K5", new))  # the key now holds only the new certificate
    assert store.due() == []
    assert store.get(old.sha256).superseded_by == new.sha256
    assert [c.sha256 for c in store.active()] == [new.sha256]


def test_banners_for_expiring_and_expired(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    clock = Clock(T0)
    soon, gone, far = make_cert(T0 + 5 * DAY, "甲"), make_cert(T0 - 2 * DAY, "乙"), make_cert(T0 + 200 * DAY, "丙")
    store = fresh(file, clock)
    store.remember(make_keyinfo("A", soon))
    store.remember(make_keyinfo("B", gone))
    store.remember(make_keyinfo("C", far))
    banners = store.banners()
    assert [(b.cert.organization, b.kind, b.days_left) for b in banners] == [("乙", "expired", -2), ("甲", "expiring", 5)]


def test_corrupt_store_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "certs.json"
    file.write_text("{not json", encoding="utf-8")
    with pytest.raises(errors.ConfigError):
        fresh(file, Clock(T0)).due()


def test_check_usable_refuses_expired_and_not_yet_valid() -> None:
    info = make_cert(T0 + 10 * DAY, not_before=T0 - DAY)
    check_usable(info, T0)
    with pytest.raises(errors.CertificateExpired) as exc:
        check_usable(info, T0 + 11 * DAY)
    assert exc.value.exit_code == errors.ExitCode.CERTIFICATE
    with pytest.raises(errors.CertificateNotYetValid):
        check_usable(info, T0 - 2 * DAY)


def test_days_left_rounds_up_until_expiry() -> None:
    assert schedule.days_left(T0 + dt.timedelta(hours=1), T0) == 1
    assert schedule.days_left(T0 - dt.timedelta(hours=1), T0) == -1
    assert schedule.normalise([]) == schedule.DEFAULT_THRESHOLDS


def test_updates_from_several_threads_and_a_second_process_are_all_kept(tmp_path: Path) -> None:
    """The tray remembers keys in a worker while the GUI thread marks reminders shown and the CLI
    (another process) remembers its own keys: each read-modify-write of the file is one at a time,
    so none of them loses another's certificate."""
    import subprocess
    import sys
    import threading

    file = tmp_path / "certificates.json"
    not_after = T0 + 40 * DAY
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; sys.path[:0] = sys.argv[2:]\n"
         "from helpers.lifecycle import T0, DAY, make_cert, make_keyinfo\n"
         "from zhenglian.lifecycle.store import CertificateStore\n"
         "s = CertificateStore(Path(sys.argv[1]))\n"
         "for i in range(40): s.remember(make_keyinfo(f'P{i}', make_cert(T0 + (40 + i) * DAY, org=f'进程{i}')))\n",
         str(file), str(Path(__file__).parent), *sys.path])
    gate = threading.Barrier(4)

    def remember(prefix: str) -> None:
        store = CertificateStore(file, clock=Clock(T0))
        gate.wait()
        for i in range(25):
            store.remember(make_keyinfo(f"{prefix}{i}", make_cert(not_after + i * DAY, org=f"线程{prefix}{i}")))

    threads = [threading.Thread(target=remember, args=(p,)) for p in "ABCD"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert child.wait(timeout=120) == 0
    serials = {c.key_serial for c in CertificateStore(file).all()}
    assert serials == {f"{p}{i}" for p in "ABCD" for i in range(25)} | {f"P{i}" for i in range(40)}
