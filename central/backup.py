"""`yiwang hub backup` and `yiwang hub restore`: the whole hub in one archive, taken while it runs.

The database is copied by SQLite's online backup API (or ``pg_dump`` for PostgreSQL: only the
hub's schema when its URL keeps it in one), so the copy is one consistent moment however busy the
hub is; beside it go the hub's key, the county CA and NATS identities, secrets and settings, and
(unless left out) the material files. Not copied: logs, JetStream's own store (messages in
transit: the points keep every batch they sealed) and earlier backups. The archive is readable by
its owner only: it holds the hub's signing key.

A restore checks the whole archive before it changes anything, refuses while any hub process uses
the database (central/inuse.py), moves what is there aside (never deletes it), and puts it all back if anything fails.
Restoring an older archive loses what the hub did after it was taken, but not what the points
sent: each point's uplink is asked for again from the restored cursor (central/ingest.py,
ask_for_lost and the gap check), and no downlink batch is sealed for a point until the hub knows
where its chain stands (central/recovery.py), so no point sees a fork.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.engine import make_url
from sqlmodel import col, update

from .actions import record_action
from .db import LATEST, create_schema, make_engine, schema_version, transaction
from .inuse import LOCK_SUFFIX, InUse, holding
from .models import Node
from .settings import Settings

SCRATCH = ".backup-"  # where a backup writes before its archive is named
SKIPPED = ("logs", "backups", "nats/jetstream", "before-restore-")  # relative path prefixes never archived
ARCHIVE = re.compile(r"yiwang-(hub|node)-\d{8}T\d{6}Z(-\d+)?\.tar\.gz")  # an archive this module writes
DB_SQLITE, DB_PG = "hub.sqlite3", "hub.pgdump"
SEARCH_PATH = re.compile(r'(?:-c\s*|--)search_path\s*=\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))')


UNREADABLE = (OSError, EOFError, zlib.error, tarfile.TarError)  # a cut or damaged archive


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with what to do about it."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database or "") if parsed.drivername.startswith("sqlite") else None


def pg_schema(url: str) -> str:
    """The schema a PostgreSQL URL keeps the hub in (``options=-csearch_path=…``), or "" for the
    whole database."""
    found = SEARCH_PATH.search(str(make_url(url).query.get("options", "")))
    if not found:
        return ""
    # as PostgreSQL names it: a quoted name exactly, an unquoted one in lower case (ADV2H is adv2h:
    # it got past the lock under a second key, and pg_restore, which matches exactly, restored nothing)
    return found[1].replace('""', '"') if found[1] else found[2].lower()


def _quoted(schema: str) -> str:
    """A pattern pg_dump matches to this schema exactly (it lower-cases an unquoted pattern)."""
    return '"' + schema.replace('"', '""') + '"'


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump/pg_restore (its query encoded as libpq decodes it: %20, not +),
    the password in the environment (not on `ps`)."""
    parsed = make_url(url)
    env = dict(os.environ) | ({"PGPASSWORD": parsed.password} if parsed.password else {})
    base = parsed.set(drivername="postgresql", password=None, query={}).render_as_string(hide_password=False)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()}
    return base + ("?" + urlencode(query, quote_via=quote) if query else ""), env


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
        live, copy = sqlite3.connect(source), sqlite3.connect(target)
        try:
            live.backup(copy)  # online: one consistent moment, while the hub goes on writing
        finally:
            copy.close()
            live.close()
        return target
    target = into / DB_PG
    libpq, env = _libpq(url)
    schema = pg_schema(url)
    _run(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            *([f"--schema={_quoted(schema)}"] if schema else []),
            "--file",
            str(target),
            libpq,
        ],
        env,
    )
    return target


def _archived(data: Path, out: Path, scratch: Path, file: Path, with_blobs: bool) -> bool:
    relative = file.relative_to(data).as_posix()
    if not file.is_file() or file.is_symlink() or ARCHIVE.fullmatch(file.name) or scratch in file.parents:
        return False
    if any(part.startswith((SCRATCH, ".restore-")) for part in file.relative_to(data).parts):
        return False  # another backup's or a restore's work in progress (--out at the data directory)
    if out != data and data in out.parents and out in file.parents:
        return False  # earlier backups kept inside the data directory
    if relative in (DB_SQLITE, f"{DB_SQLITE}-wal", f"{DB_SQLITE}-shm") or relative.endswith((".pid", LOCK_SUFFIX)):
        return False
    return not relative.startswith(SKIPPED) and (with_blobs or not relative.startswith("blobs/"))


def backup(settings: Settings, out_dir: Path, with_blobs: bool = True) -> Path:
    """Write ``out_dir/yiwang-hub-<UTC time>.tar.gz`` (mode 0600); return its path. The archive
    appears whole or not at all (written under a temporary name, then renamed)."""
    source = _sqlite_path(settings.database_url)
    if source is not None and not source.exists():
        raise BackupError(f"no database at {source}: is {settings.data_dir} the hub's directory?")
    out_dir.mkdir(parents=True, exist_ok=True)
    data, out = settings.data_dir.resolve(), out_dir.resolve()
    taken = datetime.now(UTC)
    path = out_dir / f"yiwang-hub-{taken:%Y%m%dT%H%M%SZ}.tar.gz"
    engine = make_engine(settings.database_url)
    version = schema_version(engine)
    engine.dispose()
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=SCRATCH) as scratch_dir:  # this backup's own: two at once never share a file
        scratch = Path(scratch_dir).resolve()
        database = _dump_database(settings.database_url, scratch)
        manifest = {
            "kind": "hub",
            "taken_at": taken.isoformat(),
            "app_version": installed_version("yiwang"),
            "schema_version": version,
            "database": database.name,
            "pg_schema": pg_schema(settings.database_url) if database.name == DB_PG else "",
            "blobs": with_blobs,
        }
        (scratch / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        written = scratch / path.name
        fd = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the hub's signing key
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(scratch / "manifest.json", arcname="manifest.json")
            tar.add(database, arcname=f"db/{database.name}")
            for file in sorted(data.rglob("*")):
                if _archived(data, out, scratch, file, with_blobs):
                    tar.add(file, arcname=f"files/{file.relative_to(data).as_posix()}", recursive=False)
        with open(written, "rb") as f:
            os.fsync(f.fileno())
        return _publish(written, path)


def _publish(written: Path, path: Path) -> Path:
    """Give the whole archive its name, never over another backup's of the same second."""
    for n in itertools.count(1):
        named = path if n == 1 else path.with_name(path.name.replace(".tar.gz", f"-{n}.tar.gz"))
        try:
            os.link(written, named)  # unlike a rename, refused when the name is taken
        except FileExistsError:
            continue
        except OSError:  # no hard links (a FAT-formatted USB drive)
            if named.exists():
                continue
            os.replace(written, named)
        return named
    raise AssertionError("unreachable")


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member else {}
    except (*UNREADABLE, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} cannot be read as a yiwang backup ({type(exc).__name__}: {exc}): is it a whole copy of one?") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != "hub":
        raise BackupError(f"{archive} is not a backup of a hub")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version:
        raise BackupError(f"{archive} names no schema version: it is not a yiwang backup")
    if version > LATEST:
        raise BackupError(f"{archive} was made by a newer yiwang (schema {version}; this one knows {LATEST}): upgrade first")
    if manifest.get("database") not in (DB_SQLITE, DB_PG) or not isinstance(manifest.get("taken_at"), str):
        raise BackupError(f"{archive} has a manifest this yiwang does not know (database {manifest.get('database')!r})")
    return manifest


def _check(scratch: Path, manifest: dict[str, Any], url: str) -> Path:
    """The archive's database, checked against the target before anything is touched."""
    dump = scratch / "db" / manifest["database"]
    if not dump.is_file():
        raise BackupError(f"the archive lacks its database (db/{manifest['database']}): not restored")
    target = _sqlite_path(url)
    if dump.name == DB_SQLITE:
        if target is None:
            raise BackupError("this archive holds a SQLite database; the hub is set to PostgreSQL: restore it without --db-url, or load it by hand")
        try:
            with sqlite3.connect(f"file:{dump}?mode=ro", uri=True) as db:
                ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok" and db.execute("SELECT version FROM schemaversion").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the archive's database is damaged ({exc}): not restored") from None
        if not ok:
            raise BackupError("the archive's database does not pass SQLite's integrity check: not restored")
    elif target is not None:
        raise BackupError("this archive holds a PostgreSQL dump: give the database to restore it into with --db-url")
    elif pg_schema(url) != manifest.get("pg_schema", ""):
        where = lambda schema: f"schema {schema}" if schema else "the whole database"  # noqa: E731
        raise BackupError(f"the archive is of {where(manifest.get('pg_schema', ''))}, --db-url names {where(pg_schema(url))}: not restored")
    return dump


def restore(archive: Path, settings: Settings) -> dict[str, Any]:
    """Put the archive's hub in ``settings.data_dir``. Refused while any hub process uses the
    database (and no hub process starts meanwhile). What is there is moved to
    ``before-restore-<time>/`` first, and moved back if the restore fails; material files (named
    by their content) are only added to."""
    manifest = read_manifest(archive)
    try:
        with holding(settings.database_url, alone=True):
            settings.data_dir.mkdir(parents=True, exist_ok=True)  # (a refused restore makes no directory)
            return _restore(archive, manifest, settings)
    except InUse as exc:
        raise BackupError(
            f"a hub process uses the database {exc}: stop `yiwang hub serve` and its workers first (systemctl stop yiwang-hub 'yiwang-worker-*')"
        ) from None


def _restore(archive: Path, manifest: dict[str, Any], settings: Settings) -> dict[str, Any]:
    data = settings.data_dir
    with tempfile.TemporaryDirectory(dir=data, prefix=".restore-") as scratch_dir:
        scratch = Path(scratch_dir)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                odd = [m.name for m in tar.getmembers() if not (m.isfile() or m.isdir())]
                if odd:
                    raise BackupError(f"{archive} holds links or special files ({', '.join(odd[:3])}): a yiwang backup has none; not restored")
                tar.extractall(scratch, filter="data")  # no absolute paths, no "..", no devices
        except UNREADABLE as exc:
            raise BackupError(f"{archive} cannot be unpacked ({type(exc).__name__}: {exc}): is it a whole copy? Not restored") from None
        dump = _check(scratch, manifest, settings.database_url)
        aside = _aside(data)
        moved = _swap(data, scratch / "files", aside, scratch)
        try:
            _restore_database(dump, settings.database_url, aside)
            engine = make_engine(settings.database_url)
            try:
                create_schema(engine)  # an archive of an older version is brought up to this one
                with transaction(engine) as session:
                    held = session.exec(update(Node).where(col(Node.status) == "enrolled").values(down_resync=True))
                    record_action(session, "console", "hub.restored", archive.name, taken_at=manifest["taken_at"], points_held=held.rowcount)
            finally:
                engine.dispose()
        except Exception as exc:
            _undo(data, aside, moved, settings.database_url)
            if isinstance(exc, BackupError):
                raise
            raise BackupError(f"restore failed ({type(exc).__name__}: {exc}); everything was put back as it was") from exc
    _owned_as_the_directory(data)
    return manifest | {"set_aside": str(aside) if aside.exists() else None}


def _owned_as_the_directory(data: Path) -> None:
    """Run as root, a restore would leave the keys and the database root's (0600), where the
    service user could not read them: they go to the data directory's owner, as everything there."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    owner = data.stat()
    for path in data.rglob("*"):
        os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)


def _aside(data: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside, n = data / f"before-restore-{stamp}", 1
    while aside.exists():  # two restores in one instant keep both
        aside, n = data / f"before-restore-{stamp}-{n}", n + 1
    return aside


KEPT = ("blobs/", "logs/", "nats/jetstream/", "before-restore-", ".restore-")  # left where they are by a restore


def _kept(relative: str) -> bool:
    return relative.startswith(KEPT) or relative.endswith((".pid", LOCK_SUFFIX))  # (a running nats-server's pid file stays too)


def _swap(data: Path, files: Path, aside: Path, scratch: Path) -> list[Path]:
    """Move the data directory's files aside (not blobs, logs, JetStream's store, pid files),
    then the archive's in; return what was moved in (for _undo). Blobs from the archive are added."""
    for file in sorted(p for p in data.rglob("*") if p.is_file() or p.is_symlink()):
        relative = file.relative_to(data).as_posix()
        if not _kept(relative) and scratch not in file.parents:
            (aside / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(file, aside / relative)
    moved = []
    for file in sorted(p for p in files.rglob("*") if p.is_file()) if files.exists() else []:
        relative = file.relative_to(files).as_posix()
        target = data / relative
        if relative.startswith("blobs/"):
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(file, target)
        elif not _kept(relative):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(file, target)
            moved.append(target)
    return moved


def _undo(data: Path, aside: Path, moved: list[Path], url: str) -> None:
    """Put back what was there: the archive's files out, the set-aside ones in."""
    for target in moved:
        target.unlink(missing_ok=True)
    database = _sqlite_path(url)
    for file in sorted(p for p in aside.rglob("*") if p.is_file()) if aside.exists() else []:
        relative = file.relative_to(aside)
        back = (
            database.with_name(file.name)
            if database is not None and database.parent != data and file.parent == aside and file.name.startswith(database.name)
            else data / relative
        )
        back.unlink(missing_ok=True)
        back.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(file, back)
    shutil.rmtree(aside, ignore_errors=True)


def _restore_database(dump: Path, url: str, aside: Path) -> None:
    target = _sqlite_path(url)
    if target is not None:
        for suffix in ("", "-wal", "-shm"):
            old = target.with_name(target.name + suffix)
            if old.exists():  # (in the data directory: moved aside already; elsewhere: now)
                aside.mkdir(parents=True, exist_ok=True)
                shutil.move(old, aside / old.name)
        shutil.copyfile(dump, target)
        return
    libpq, env = _libpq(url)
    schema = pg_schema(url)
    only = [f"--schema={schema}"] if schema else []
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", *only, "--dbname", libpq, str(dump)], env)
