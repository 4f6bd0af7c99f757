"""The off-host copies in health: what the backups record, how old the last good copy is, and that a
stale one is said without calling GlitchTip unhealthy."""

from __future__ import annotations

import datetime

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import destinations, health, probes

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def hours_ago(hours):
    return NOW - datetime.timedelta(hours=hours)


def test_each_backup_records_the_last_good_copy_and_the_last_failure(tmp_path):
    root = str(tmp_path)
    assert destinations.read_state(root) == {}
    destinations.record(root, {"sftp": {"ok": True, "snapshot": "66771157"}, "s3": {"ok": True, "snapshot": "f03c"}},
                        "glitchtip-20261202T023000Z", hours_ago(10))
    destinations.record(root, {"sftp": {"ok": False, "reason": "repository: sftp: cannot open"},
                               "s3": {"ok": True, "snapshot": "a1b2"}}, "glitchtip-20261203T023000Z", hours_ago(2))
    state = destinations.read_state(root)
    assert state["sftp"] == {"last_good": hours_ago(10).isoformat(), "backup": "glitchtip-20261202T023000Z",
                             "snapshot": "66771157", "last_attempt": hours_ago(2).isoformat(), "last_ok": False,
                             "last_reason": "repository: sftp: cannot open"}
    assert state["s3"]["last_good"] == hours_ago(2).isoformat() and state["s3"]["last_ok"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == [destinations.STATE_FILE]  # no .tmp left


def test_an_unreadable_state_is_no_good_copy(tmp_path):
    (tmp_path / destinations.STATE_FILE).write_text("{not json", encoding="utf-8")
    assert destinations.read_state(str(tmp_path)) == {}


def test_the_component_gives_each_age_and_is_degraded_when_a_copy_is_missing_stale_or_failing():
    good = {"last_good": hours_ago(3).isoformat(), "backup": "glitchtip-20261203T090000Z", "last_ok": True}
    ok = health.offsite_component(["sftp", "s3"], {"sftp": good, "s3": good}, NOW)
    assert ok["status"] == health.OK
    assert ok["reason"] == ("sftp: last good copy 3.0 h ago (glitchtip-20261203T090000Z); "
                            "s3: last good copy 3.0 h ago (glitchtip-20261203T090000Z)")
    assert ok["details"]["last_good_age_hours"] == {"sftp": 3.0, "s3": 3.0}
    stale = dict(good, last_good=hours_ago(27).isoformat())
    assert health.offsite_component(["sftp"], {"sftp": stale}, NOW)["status"] == health.DEGRADED
    failing = dict(good, last_ok=False, last_attempt=hours_ago(1).isoformat(), last_reason="upload: sftp: quota")
    component = health.offsite_component(["sftp"], {"sftp": failing}, NOW)
    assert component["status"] == health.DEGRADED and "last attempt FAILED at" in component["reason"]
    assert "upload: sftp: quota" in component["reason"]
    never = health.offsite_component(["s3"], {}, NOW)
    assert never["status"] == health.DEGRADED and never["reason"] == "s3: no good copy yet"


def test_a_stale_copy_is_said_but_never_makes_the_overall_status_worse():
    stale = health.offsite_component(["s3"], {}, NOW)
    served = health.component("web", health.OK, "HTTP 200")
    assert health.report([served, stale])["status"] == health.OK
    assert health.report([health.component("web", health.DOWN, "refused"), stale])["status"] == health.DOWN


def test_the_probe_reads_the_backups_directory_and_only_where_destinations_are_set(tmp_path):
    destinations.record(str(tmp_path), {"sftp": {"ok": True, "snapshot": "1"}}, "glitchtip-20261203T110000Z",
                        hours_ago(1))
    settings = {"paths": {"backups": str(tmp_path)}}
    component = probes.probe_offsite(settings, {"AIO_BACKUP_DESTINATIONS": "sftp"}, clock=lambda: NOW)
    assert component["status"] == health.OK and component["details"]["last_good_age_hours"] == {"sftp": 1.0}
