"""`yiwang hub backup` and `restore` (issue 22 item 5) on both databases: an online copy of one
moment, restored with what was there set aside (never deleted), material files only added, every
enrolled point's downlink held until it says where it stands; refusals that say what to do."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from sqlmodel import Session, select

from central.backup import BackupError, backup, read_manifest, restore
from central.db import make_engine
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
    with pytest.raises(BackupError, match="not a yiwang backup"):
        restore(junk, settings)
    with pytest.raises(BackupError, match="no database"):
        backup(settings, tmp_path / "out")
    assert not (tmp_path / "hub").exists() or not any((tmp_path / "hub").iterdir())
