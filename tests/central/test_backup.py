"""`yiwang hub backup` and `restore` (issue 22 item 5) on both databases: an online copy of one
moment, restored with what was there set aside (never deleted), material files only added, every
enrolled point's downlink held until it says where it stands; refusals that say what to do."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest
from sqlmodel import Session, select

from central.backup import BackupError, backup, pg_schema, read_manifest, restore
from central.db import make_engine
from central.inuse import InUse, holding
from central.models import AuditEntry, Node
from central.settings import Settings
from tests.support.builders import T


def hub_settings(tmp_path: Path, hub_db_url: str) -> Settings:
    data = tmp_path / "hubdir"
    (data / "nats").mkdir(parents=True)
    (data / "hub.key").write_text("KEY-1\n")
    (data / "nats" / "ca.pem").write_text("CA\n")
    (data / "nats" / "jetstream").mkdir()
    (data / "nats" / "jetstream" / "msgs").write_text("in transit\n")
    (data / "logs").mkdir()
    (data / "logs" / "hub.log").write_text("log\n")
    (data / "blobs").mkdir()
    (data / "blobs" / ("a" * 64)).write_text("photo\n")
    return Settings.from_env(data_dir=data, db_url="" if hub_db_url.startswith("sqlite") else hub_db_url)


def names(engine) -> list[str]:
    with Session(engine) as s:
        return sorted(n.id for n in s.exec(select(Node)).all())


def test_a_backup_restores_the_moment_it_was_taken(engine, hub_db_url: str, tmp_path: Path):
    settings = hub_settings(tmp_path, hub_db_url)
    if hub_db_url.startswith("sqlite"):  # the hub's own file, in its directory
        engine.dispose()
        Path(hub_db_url.removeprefix("sqlite:///")).rename(settings.data_dir / "hub.sqlite3")
    live = make_engine(settings.database_url)
    archive = backup(settings, tmp_path / "backups")
    with tarfile.open(archive) as tar:
        members = set(tar.getnames())
    assert {"manifest.json", "files/hub.key", "files/nats/ca.pem", f"files/blobs/{'a' * 64}"} <= members
    assert not {m for m in members if "jetstream" in m or m.startswith("files/logs")}  # in transit, logs: not the hub's state
    assert read_manifest(archive)["schema_version"] >= 19 and archive.name.startswith("yiwang-hub-")

    # after the backup: a new point, a new key file, a new material file
    with Session(live) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key="k", enrolled_at=T))
        s.commit()
    (settings.data_dir / "hub.key").write_text("KEY-2\n")
    (settings.data_dir / "blobs" / ("b" * 64)).write_text("later photo\n")
    live.dispose()

    manifest = restore(archive, settings)
    restored = make_engine(settings.database_url)
    assert names(restored) == ["shangcun"]  # the database as it was
    assert (settings.data_dir / "hub.key").read_text() == "KEY-1\n"
    aside = Path(manifest["set_aside"])
    assert (aside / "hub.key").read_text() == "KEY-2\n"  # what was there is set aside, not deleted
    assert (settings.data_dir / "blobs" / ("b" * 64)).exists()  # files named by content are only added to
    with Session(restored) as s:
        assert all(n.down_resync for n in s.exec(select(Node)).all())  # held until each point says where it stands
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "hub.restored")).first() is not None
    restored.dispose()


def test_a_restore_refuses_what_is_not_a_hub_backup(tmp_path: Path):
    settings = Settings.from_env(data_dir=tmp_path / "hub")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(BackupError, match="cannot be read as a yiwang backup"):
        restore(junk, settings)
    with pytest.raises(BackupError, match="no database"):
        backup(settings, tmp_path / "out")
    assert not (tmp_path / "hub").exists() or not any((tmp_path / "hub").iterdir())


def _archive(tmp_path: Path, manifest: dict, members: dict[str, bytes]) -> Path:
    import io
    import json

    path = tmp_path / "crafted.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, body in {"manifest.json": json.dumps(manifest).encode(), **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def test_a_cut_archive_is_refused_with_the_reason(tmp_path: Path):
    """Adversarial pass: the first two thirds of a backup gave only click's "Aborted!"."""
    from central.cli import initialise

    settings = Settings.from_env(data_dir=tmp_path / "hub")
    initialise(settings, "op-secret")
    whole = backup(settings, tmp_path / "out").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(BackupError, match=r"EOFError.*is it a whole copy"):
        restore(cut, settings)
    assert not list(settings.data_dir.glob("before-restore-*"))


def test_a_bad_archive_changes_nothing_and_says_why(tmp_path: Path):
    """Adversarial pass: a failed restore left a foreign key beside the hub's own database, a
    manifest could name a file outside the archive, and a damaged database was found only after
    the old one had been moved aside."""
    data = tmp_path / "hub"
    data.mkdir()
    (data / "hub.key").write_text("OURS\n")
    sqlite3.connect(data / "hub.sqlite3").close()
    outside = tmp_path / "elsewhere.sqlite3"
    outside.write_text("not ours to move")
    settings = Settings.from_env(data_dir=data)
    good = {"kind": "hub", "taken_at": "2026-12-07T00:00:00+00:00", "schema_version": 19, "database": "hub.sqlite3"}
    cases = [
        (good | {"database": str(outside)}, {}, "does not know"),
        (good | {"schema_version": True}, {}, "no schema version"),
        (good | {"schema_version": 10**6}, {}, "newer yiwang"),
        (good, {"files/hub.key": b"THEIRS\n"}, "lacks its database"),
        (good, {"files/hub.key": b"THEIRS\n", "db/hub.sqlite3": b"garbage" * 100}, "damaged"),
    ]
    for manifest, members, said in cases:
        with pytest.raises(BackupError, match=said):
            restore(_archive(tmp_path, manifest, members), settings)
        assert (data / "hub.key").read_text() == "OURS\n" and (data / "hub.sqlite3").exists() and outside.exists()
        assert not list(data.glob("before-restore-*"))


def test_a_restore_waits_for_the_hub_to_stop_and_a_backup_beside_the_data_keeps_the_keys(tmp_path: Path):
    import stat

    from central.cli import initialise

    data = tmp_path / "hub"
    settings = Settings.from_env(data_dir=data)
    initialise(settings, "op-secret")
    archive = backup(settings, tmp_path)  # the directory above the data: the keys go in all the same
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds the hub's signing key
    with tarfile.open(archive) as tar:
        assert "files/hub.key" in tar.getnames()
    with holding(settings.database_url, alone=False):  # a hub serving from it (tests/e2e/test_restore_drill.py: a real one)
        with pytest.raises(BackupError, match="stop `yiwang hub serve`"):
            restore(archive, settings)
        with pytest.raises(BackupError, match="stop `yiwang hub serve`"):  # given another --dir, the same database
            restore(archive, Settings.from_env(data_dir=tmp_path / "other", db_url=settings.database_url))
        (tmp_path / "link.sqlite3").symlink_to(data / "hub.sqlite3")  # adversarial pass: a symlink to the file got past the lock
        with pytest.raises(BackupError, match="stop `yiwang hub serve`"):
            restore(archive, Settings.from_env(data_dir=tmp_path / "other", db_url=f"sqlite:///{tmp_path / 'link.sqlite3'}"))
    with holding(settings.database_url, alone=True), pytest.raises(InUse):  # a restore under way: no hub starts
        with holding(settings.database_url, alone=False):
            pass
    first, second = restore(archive, settings), restore(archive, settings)
    assert first["set_aside"] != second["set_aside"]  # two restores in one second keep both copies


def test_a_postgresql_archive_goes_back_only_into_its_own_schema(tmp_path: Path):
    """Adversarial pass: an archive of one schema restored over a URL naming the whole database
    overwrote that schema; with ``--search_path`` in the URL, the whole database was dumped."""
    from tests import pg

    if reason := pg.unreachable():
        pytest.skip(f"PostgreSQL: {reason}")
    with pg.scratch_schema() as hub_db_url:
        _pg_round_trip(tmp_path, hub_db_url)
    assert pg_schema("postgresql+psycopg://u@h/db?options=--search_path%3Dabc") == "abc"
    assert pg_schema("postgresql+psycopg://u@h/db?options=-c%20search_path%3Dabc") == "abc"


def _pg_round_trip(tmp_path: Path, hub_db_url: str) -> None:
    from central.cli import initialise
    from tests import pg

    settings = Settings.from_env(data_dir=tmp_path / "hub", db_url=hub_db_url)
    initialise(settings, "op-secret")
    archive = backup(settings, tmp_path / "out")
    assert read_manifest(archive)["pg_schema"].startswith("t_")
    with pytest.raises(BackupError, match="--db-url names the whole database"):
        restore(archive, Settings.from_env(data_dir=tmp_path / "other", db_url=hub_db_url.split("?")[0]))
    with holding(hub_db_url, alone=False), pytest.raises(BackupError, match="stop `yiwang hub serve`"):  # a hub on that schema, from anywhere
        restore(archive, Settings.from_env(data_dir=tmp_path / "other", db_url=hub_db_url))
    shouted = hub_db_url.replace(pg_schema(hub_db_url), pg_schema(hub_db_url).upper())  # the same schema to PostgreSQL
    with holding(hub_db_url, alone=False), pytest.raises(BackupError, match="stop `yiwang hub serve`"):  # adversarial pass: a second key
        restore(archive, Settings.from_env(data_dir=tmp_path / "other", db_url=shouted))
    with pg.scratch_schema() as elsewhere, holding(elsewhere, alone=False):  # a hub on another schema holds up nothing
        restore(archive, settings)


def test_a_restore_run_as_root_leaves_the_files_to_the_service_user(tmp_path: Path):
    """New-user pass: restored as root, the keys, the database and NATS's files were root's
    (0600), and the service user could read none of them."""
    import os

    from central.cli import initialise

    if os.geteuid() != 0:
        pytest.skip("needs root, as the restore it checks is run")
    settings = Settings.from_env(data_dir=tmp_path / "hub")
    initialise(settings, "op-secret")
    archive = backup(settings, tmp_path / "out")
    service_user = 65534  # nobody: stands for the `yiwang` user install-service makes
    for path in [settings.data_dir, *settings.data_dir.rglob("*")]:
        os.chown(path, service_user, service_user)
    restore(archive, settings)
    owners = {p.relative_to(settings.data_dir).as_posix(): p.stat().st_uid for p in settings.data_dir.rglob("*")}
    assert {"hub.key", "hub.sqlite3"} <= set(owners) and set(owners.values()) == {service_user}, owners


def test_a_hub_that_loses_its_postgresql_lock_takes_it_again_or_stops(tmp_path: Path):
    """Adversarial pass: the lock lived on one idle connection; a PostgreSQL restart, an idle
    timeout or pg_terminate_backend took it away unnoticed, and a restore ran under the hub."""
    import hashlib
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine, text

    from tests import pg
    from tests.support.polling import eventually

    if reason := pg.unreachable():
        pytest.skip(f"PostgreSQL: {reason}")
    with pg.scratch_schema() as url:
        key = int.from_bytes(hashlib.sha256(f"yiwang hub {pg_schema(url)}".encode()).digest()[:8], "big", signed=True)
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        where = f"locktype = 'advisory' AND granted AND classid = {unsigned >> 32} AND objid = {unsigned & 0xFFFFFFFF}"
        code = f"import time\nfrom central.inuse import holding\nwith holding({url!r}, alone=False, watch_s=0.3):\n    print('held', flush=True)\n    time.sleep(120)"
        hub = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        admin = create_engine(pg.PG_URL, isolation_level="AUTOCOMMIT")
        try:
            assert hub.stdout.readline().strip() == "held"
            with admin.connect() as db:
                holder = lambda: db.execute(text(f"SELECT pid FROM pg_locks WHERE {where}")).scalar()  # noqa: E731
                first = holder()
                db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
                eventually(lambda: holder() not in (None, first), timeout=10, what="the lock taken again on a new connection")
                assert hub.poll() is None
                db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder()})
                deadline = time.monotonic() + 5
                while not db.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():  # a restore, in the gap
                    assert time.monotonic() < deadline, "never got the lock alone"
                assert hub.wait(10) == -15  # it stopped itself (SIGTERM): it no longer held the database
                assert "cannot be held again" in hub.stderr.read()
        finally:
            hub.kill()
            admin.dispose()


def test_a_backup_into_the_data_directory_leaves_out_another_backups_work(tmp_path: Path):
    """Adversarial pass: six backups at once with --out at the data directory archived each
    other's copies of the database (files/tmpXXXX/hub.sqlite3), and a restore would unpack them."""
    from central.cli import initialise

    settings = Settings.from_env(data_dir=tmp_path / "hub")
    initialise(settings, "op-secret")
    elsewhere = settings.data_dir / ".backup-inflight"  # another backup, half-way
    elsewhere.mkdir()
    (elsewhere / "hub.sqlite3").write_bytes(b"a copy in the making")
    with tarfile.open(backup(settings, settings.data_dir)) as tar:
        names = tar.getnames()
    assert "files/hub.key" in names and not [n for n in names if ".backup-" in n], names
