"""`yiwang hub backup` and `yiwang hub restore`: the whole hub in one archive, taken while it runs.

The database is copied by SQLite's online backup API (or ``pg_dump`` for PostgreSQL), so the copy
is one consistent moment however busy the hub is; beside it go the hub's key, the county CA and
NATS identities, secrets and settings, and (unless left out) the material files. Not copied:
logs, JetStream's own store (messages in transit: the points keep every batch they sealed) and
earlier backups.

Restoring an older archive loses what the hub did after it was taken, but not what the points
sent: each point's uplink is asked for again from the restored cursor (central/ingest.py,
ask_for_lost and the gap check), and no downlink batch is sealed for a point until its status
says where its chain stands (central/linkstatus.py, adopt_down_head), so no point sees a fork.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel import col, update

from .actions import record_action
from .db import LATEST, create_schema, make_engine, schema_version, transaction
from .models import Node
from .settings import Settings

SKIPPED = ("logs", "backups", "nats/jetstream", "before-restore-")  # relative path prefixes never archived
DB_SQLITE, DB_PG = "hub.sqlite3", "hub.pgdump"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with what to do about it."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database or "") if parsed.drivername.startswith("sqlite") else None


def _libpq(url: str) -> tuple[str, dict[str, str], list[str]]:
    """A libpq URL for pg_dump/pg_restore, its password in the environment (not on `ps`), and
    ``--schema`` when the URL keeps the hub in a schema of its own (``options=-csearch_path=…``)."""
    parsed = make_url(url)
    env = dict(os.environ) | ({"PGPASSWORD": parsed.password} if parsed.password else {})
    path = re.search(r"-csearch_path=([A-Za-z_][A-Za-z0-9_]*)", str(parsed.query.get("options", "")))
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env, [f"--schema={path[1]}"] if path else []


def _run(argv: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} not found: install PostgreSQL's client programs (postgresql-client)") from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[-500:]}")


def _dump_database(url: str, into: Path) -> Path:
    source = _sqlite_path(url)
    if source is not None:
        target = into / DB_SQLITE
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)  # online: one consistent moment, while the hub goes on writing
        copy.close()
        live.close()
        return target
    target = into / DB_PG
    libpq, env, schema = _libpq(url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", *schema, "--file", str(target), libpq], env)
    return target


def _skipped(relative: str) -> bool:
    return relative.endswith((".pid", ".partial")) or relative in (DB_SQLITE, f"{DB_SQLITE}-wal", f"{DB_SQLITE}-shm") or relative.startswith(SKIPPED)


def backup(settings: Settings, out_dir: Path, with_blobs: bool = True) -> Path:
    """Write ``out_dir/yiwang-hub-<UTC time>.tar.gz``; return its path. The archive appears whole
    or not at all (written under a temporary name, then renamed)."""
    source = _sqlite_path(settings.database_url)
    if source is not None and not source.exists():
        raise BackupError(f"no database at {source}: is {settings.data_dir} the hub's directory?")
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = datetime.now(UTC)
    path = out_dir / f"yiwang-hub-{taken:%Y%m%dT%H%M%SZ}.tar.gz"
    engine = make_engine(settings.database_url)
    version = schema_version(engine)
    engine.dispose()
    partial = path.with_name(path.name + ".partial")
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        database = _dump_database(settings.database_url, Path(scratch))
        manifest = {
            "kind": "hub",
            "taken_at": taken.isoformat(),
            "app_version": installed_version("yiwang"),
            "schema_version": version,
            "database": database.name,
        }
        manifest["blobs"] = with_blobs
        (Path(scratch) / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(Path(scratch) / "manifest.json", arcname="manifest.json")
            tar.add(database, arcname=f"db/{database.name}")
            for file in sorted(settings.data_dir.rglob("*")):
                relative = file.relative_to(settings.data_dir).as_posix()
                if (
                    file.is_file()
                    and not _skipped(relative)
                    and (with_blobs or not relative.startswith("blobs/"))
                    and out_dir.resolve() not in file.resolve().parents
                ):
                    tar.add(file, arcname=f"files/{relative}", recursive=False)
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, path)
    return path


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member else {}
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{archive} is not a yiwang backup ({type(exc).__name__}: {exc})") from None
    if manifest.get("kind") != "hub":
        raise BackupError(f"{archive} is a backup of a {manifest.get('kind') or 'unknown thing'}, not of a hub")
    if not isinstance(manifest.get("schema_version"), int) or manifest["schema_version"] > LATEST:
        raise BackupError(f"{archive} was made by a newer yiwang (schema {manifest.get('schema_version')}; this one knows {LATEST}): upgrade first")
    return manifest


def restore(archive: Path, settings: Settings) -> dict[str, Any]:
    """Put the archive's hub in ``settings.data_dir`` (the hub stopped). What is there already is
    moved to ``before-restore-<time>/`` first, never deleted, except material files: those are
    named by their content, so the archive's are only added to them."""
    manifest = read_manifest(archive)
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    aside = data / f"before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    with tempfile.TemporaryDirectory(dir=data) as scratch, tarfile.open(archive, "r:gz") as tar:
        odd = [m.name for m in tar.getmembers() if not (m.isfile() or m.isdir())]
        if odd:
            raise BackupError(f"{archive} holds links or special files ({', '.join(odd[:3])}): a yiwang backup has none; not restored")
        tar.extractall(scratch, filter="data")  # no absolute paths, no "..", no devices
        files = Path(scratch) / "files"
        for file in sorted(p for p in files.rglob("*") if p.is_file()) if files.exists() else []:
            relative = file.relative_to(files)
            target = data / relative
            if relative.parts[0] == "blobs":
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(file, target)
                continue
            if target.exists():
                (aside / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(target, aside / relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(file, target)
        _restore_database(Path(scratch) / "db" / manifest["database"], settings.database_url, aside)
    engine = make_engine(settings.database_url)
    try:
        create_schema(engine)  # an archive of an older version is brought up to this one
        with transaction(engine) as session:
            held = session.exec(update(Node).where(col(Node.status) == "enrolled").values(down_resync=True))
            record_action(session, "system", "hub.restored", archive.name, taken_at=manifest["taken_at"], points_held=held.rowcount)
    finally:
        engine.dispose()
    return manifest | {"set_aside": str(aside) if aside.exists() else None}


def _restore_database(dump: Path, url: str, aside: Path) -> None:
    target = _sqlite_path(url)
    if dump.name == DB_SQLITE:
        if target is None:
            raise BackupError("this archive holds a SQLite database; the hub is set to PostgreSQL: restore it without --db-url, or load it by hand")
        for suffix in ("", "-wal", "-shm"):
            old = target.with_name(target.name + suffix)
            if old.exists():
                aside.mkdir(parents=True, exist_ok=True)
                shutil.move(old, aside / old.name)
        shutil.move(dump, target)
        return
    if target is not None:
        raise BackupError("this archive holds a PostgreSQL dump: give the database to restore it into with --db-url")
    libpq, env, schema = _libpq(url)
    _run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", *schema, "--dbname", libpq, str(dump)], env
    )
