"""Material photos and scans: checked, optimised (photos.py), stored content-addressed on disk,
recorded with their outbox event in one transaction. The bytes travel to the hub separately
(blobs.py).

What is stored, sent and named in the signed record is the optimised file. The photo as taken is
kept here too (``original_sha256``), never sent: if a clerk cannot read a detail, the agent still
has it. It lives exactly as long as the copy that was sent.

A copy stays on the laptop only as long as it is needed: when the hub confirms it holds the
verified file (``material.received``), the receipt is recorded, and ``purge_received`` deletes the
copy once the retention period (``YIWANG_MATERIAL_RETENTION_DAYS``) has passed."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sync_protocol import MATERIALS_ATTACHED, MAX_BLOB_BYTES, format_time, parse_time
from weblayer.errors import InvalidInput, NotFound

from . import photos
from .intake import person_name
from .store import Store, add_outbox, utcnow

log = logging.getLogger("yiwang.node.materials")

# sniffed from the bytes, not trusted from the browser's Content-Type
SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"%PDF-": "application/pdf"}


def sniff_media_type(content: bytes) -> str | None:
    return next((media for magic, media in SIGNATURES.items() if content.startswith(magic)), None)


def blob_path(blobs_dir: Path, sha256: str) -> Path:
    return blobs_dir / sha256


def write_blob(blobs_dir: Path, content: bytes) -> str:
    """Store ``content`` under its SHA-256 (write, fsync, rename: never a half-written blob)."""
    sha = hashlib.sha256(content).hexdigest()
    final = blob_path(blobs_dir, sha)
    if not final.exists():
        blobs_dir.mkdir(parents=True, exist_ok=True)
        # a temporary name of its own: two requests storing the same file at once (one signature
        # on two pickups) once shared a name, and the second's rename found it gone (a 500)
        fd, tmp = tempfile.mkstemp(dir=blobs_dir, prefix=f".{sha}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)  # the same bytes under the same name whoever renames last
    return sha


def check_upload(material: str, content: bytes, field: str = "file") -> str:
    """Refuse an upload that is empty, too large or not a JPG/PNG/PDF; return its media type."""
    if not material.strip():
        raise InvalidInput("请填写材料名称（例如：居民身份证）", field="material")
    if not content:
        raise InvalidInput(f"“{material}”上传的文件是空的，请重新拍照或扫描", field=field)
    if len(content) > MAX_BLOB_BYTES:
        raise InvalidInput(f"“{material}”的文件过大（{len(content) / 1048576:.1f} MB），单个材料不能超过 20 MB，请降低分辨率后重试", field=field)
    media_type = sniff_media_type(content)
    if media_type is None:
        raise InvalidInput(f"“{material}”只能上传 JPG、PNG 图片或 PDF 文件", field=field)
    return media_type


class MaterialFile(NamedTuple):
    """An upload as it will be kept: ``content`` is stored, sent and named in the signed record;
    ``original`` is the photo as taken (None when nothing was changed, e.g. a PDF)."""

    filename: str
    content: bytes
    media_type: str
    original: bytes | None


class StoredFile(NamedTuple):
    """A MaterialFile written to the blobs directory."""

    filename: str
    sha256: str
    size: int
    media_type: str
    original_sha256: str | None
    original_size: int | None


def prepare_upload(material: str, filename: str, content: bytes, field: str = "file") -> MaterialFile:
    """Check an upload (check_upload) and optimise it for the link (photos.optimise); nothing is
    written yet, so a bad file among several refuses them all."""
    media_type = check_upload(material, content, field)
    try:
        optimised, optimised_type = photos.optimise(content, media_type)
    except InvalidInput as exc:
        raise InvalidInput(f"“{material}”的{exc.message}", field=field) from None
    if optimised_type != media_type:  # a PNG photo sent as a JPEG: the name the clerk saves it under says so
        stem, dot, _ = filename.rpartition(".")
        filename = f"{(stem if dot else filename) or 'photo'}.jpg"
    return MaterialFile(filename, optimised, optimised_type, None if optimised == content else content)


def store_upload(blobs_dir: Path, upload: MaterialFile) -> StoredFile:
    """Write the file to send and, for a photo, the original, both content-addressed."""
    sha = write_blob(blobs_dir, upload.content)
    if upload.original is None:
        return StoredFile(upload.filename, sha, len(upload.content), upload.media_type, None, None)
    return StoredFile(upload.filename, sha, len(upload.content), upload.media_type, write_blob(blobs_dir, upload.original), len(upload.original))


def record_material(conn: sqlite3.Connection, application_id: str, material: str, stored: StoredFile, agent: Mapping[str, str]) -> dict[str, Any]:
    """The material row, its upload job and its outbox event, inside the caller's transaction."""
    row = {
        "application_id": application_id,
        "material": material.strip(),
        "sha256": stored.sha256,
        "size": stored.size,
        "media_type": stored.media_type,
        "filename": stored.filename[:200],
        "original_sha256": stored.original_sha256,
        "original_size": stored.original_size,
        "agent_username": agent["username"],
        "created_at": utcnow(),
    }
    conn.execute(f"INSERT INTO materials ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
    # the same file again after its copy was purged: the hub has it, the new copy's retention starts now
    conn.execute(
        "INSERT INTO blob_uploads (sha256, size, sent_bytes) VALUES (?, ?, 0) "
        "ON CONFLICT(sha256) DO UPDATE SET received_at = CASE WHEN purged_at IS NULL THEN received_at ELSE ? END, purged_at = NULL",
        (stored.sha256, stored.size, row["created_at"]),
    )
    add_outbox(
        conn,
        MATERIALS_ATTACHED,
        {k: row[k] for k in ("application_id", "material", "sha256", "size", "media_type", "filename")},
        at=str(row["created_at"]),
    )
    return row


def attach_material(
    store: Store, blobs_dir: Path, application_id: str, material: str, filename: str, content: bytes, agent: Mapping[str, str]
) -> dict[str, Any]:
    """Add a material to an existing application (e.g. a supplement)."""
    material = person_name(material, "material", "材料名称")  # printed on the clerk's page and the slip
    upload = prepare_upload(material, filename, content)
    if store.one("SELECT 1 FROM applications WHERE id = ?", (application_id,)) is None:
        raise NotFound("没有找到这个办件")
    stored = store_upload(blobs_dir, upload)
    with store.write() as conn:
        return record_material(conn, application_id, material, stored, agent)


def list_materials(store: Store, blobs_dir: Path, application_id: str) -> list[dict[str, Any]]:
    """The application's materials, each with its upload progress and whether a copy is here."""
    rows = store.query(
        "SELECT m.*, b.sent_bytes, b.completed_at, b.received_at, b.purged_at FROM materials m LEFT JOIN blob_uploads b ON b.sha256 = m.sha256 WHERE m.application_id = ? ORDER BY m.id",
        (application_id,),
    )
    return [dict(r, stored_here=blob_path(blobs_dir, r["sha256"]).exists()) for r in rows]


def apply_receipt(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """The hub holds the verified file (downlink ``material.received``): nothing is left to send,
    and the retention period of this copy starts now."""
    conn.execute(
        "UPDATE blob_uploads SET received_at = COALESCE(received_at, ?), sent_bytes = size, completed_at = COALESCE(completed_at, ?) WHERE sha256 = ?",
        (utcnow(), utcnow(), data["sha256"]),
    )


# the originals of the photos sent as ``:sha``, unless another copy still kept needs one: another
# material's (taken from the same photo before a Pillow upgrade changed its optimised bytes), or
# the same bytes attached as a file to send in their own right
_ORIGINALS_DUE = """
SELECT DISTINCT m.original_sha256 FROM materials m WHERE m.sha256 = :sha AND m.original_sha256 IS NOT NULL
AND NOT EXISTS (SELECT 1 FROM materials o JOIN blob_uploads b ON b.sha256 = o.sha256
                WHERE o.original_sha256 = m.original_sha256 AND o.sha256 != :sha AND b.purged_at IS NULL)
AND NOT EXISTS (SELECT 1 FROM blob_uploads b WHERE b.sha256 = m.original_sha256 AND b.purged_at IS NULL)
"""


def purge_received(store: Store, blobs_dir: Path, retention_days: float, now: datetime | None = None) -> int:
    """Delete the copies the hub confirmed at least ``retention_days`` ago, and the originals of
    those photos; return how many copies.

    The files go first, then the mark: a crash in between leaves an unmarked missing file, which
    the next run marks. Never the other way round, which could leave a citizen's scan on disk."""
    cutoff = format_time((now or datetime.now(UTC)) - timedelta(days=retention_days))
    due = store.query(
        "SELECT sha256, received_at FROM blob_uploads WHERE received_at IS NOT NULL AND purged_at IS NULL AND received_at <= ?", (cutoff,)
    )
    for row in due:
        with store.write() as conn:  # under the write lock, so an intake of the same file waits
            for (original,) in conn.execute(_ORIGINALS_DUE, {"sha": row["sha256"]}).fetchall():
                blob_path(blobs_dir, original).unlink(missing_ok=True)
            blob_path(blobs_dir, row["sha256"]).unlink(missing_ok=True)
            conn.execute("UPDATE blob_uploads SET purged_at = ? WHERE sha256 = ? AND received_at = ?", (utcnow(), row["sha256"], row["received_at"]))
    if due:
        log.info("%d material file(s) the county hub confirmed are no longer kept on this node", len(due))
    return len(due)


def keep_until(received_at: str | None, retention_days: float) -> str | None:
    """When a copy the hub confirmed will be deleted here (for the case page)."""
    return format_time(parse_time(received_at) + timedelta(days=retention_days)) if received_at else None


ORIGINAL_SUFFIX = "（原图）"


def queue_originals(store: Store, blobs_dir: Path, sha256s: list[str]) -> dict[str, list[str]]:
    """The county asked for the photos as taken behind these sent copies (原图): each becomes a
    material of its own ("…（原图）") with its outbox event and an upload marked as requested
    (sent even in metered mode). Returns which were queued (or had been) and which this node no
    longer has (purged after the retention period, or never optimised)."""
    out: dict[str, list[str]] = {"queued": [], "gone": []}
    for sha in sha256s:
        row = store.one("SELECT * FROM materials WHERE sha256 = ? AND original_sha256 IS NOT NULL ORDER BY id LIMIT 1", (sha,))
        path = blob_path(blobs_dir, row["original_sha256"]) if row is not None else None
        if row is None or path is None or not path.exists():
            out["gone"].append(sha)
            continue
        name = row["material"] + ORIGINAL_SUFFIX
        sent = store.one("SELECT sha256 FROM materials WHERE application_id = ? AND material = ?", (row["application_id"], name))
        if sent is None:
            # the photo as taken at full size, but — like every photo that leaves this node —
            # without its EXIF (GPS, phone, time): what the clerk needs is the detail, not the
            # place. Re-encoded before the write lock: it takes a good part of a second.
            original = path.read_bytes()
            try:
                content, media = photos.clean(original, sniff_media_type(original) or row["media_type"])
            except InvalidInput:
                out["gone"].append(sha)
                continue
            stored = StoredFile("original-" + (row["filename"] or "photo"), write_blob(blobs_dir, content), len(content), media, None, None)
        with store.write() as conn:
            again = conn.execute("SELECT sha256 FROM materials WHERE application_id = ? AND material = ?", (row["application_id"], name)).fetchone()
            if again is None:
                record_material(conn, row["application_id"], name, stored, {"username": "system"})
                log.info("original of %s… queued for the county at its request", sha[:12])
            conn.execute("UPDATE blob_uploads SET requested = 1 WHERE sha256 = ?", ((again or sent or {"sha256": stored.sha256})["sha256"],))
        out["queued"].append(sha)
    return out
