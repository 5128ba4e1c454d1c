"""Material photos and scans: checked, stored content-addressed on disk, recorded with their
outbox event in one transaction. The bytes travel to the hub separately (blobs.py)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any, Mapping

from sync_protocol import MATERIALS_ATTACHED, MAX_BLOB_BYTES

from .errors import InvalidInput, NotFound
from .store import Store, add_outbox, utcnow

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
        tmp = blobs_dir / f".{sha}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
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


def record_material(conn: sqlite3.Connection, application_id: str, material: str, filename: str, sha: str, size: int, media_type: str, agent: Mapping[str, str]) -> dict[str, Any]:
    """The material row, its upload job and its outbox event, inside the caller's transaction."""
    row = {"application_id": application_id, "material": material.strip(), "sha256": sha, "size": size, "media_type": media_type, "filename": filename[:200], "agent_username": agent["username"], "created_at": utcnow()}
    conn.execute(f"INSERT INTO materials ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
    conn.execute("INSERT INTO blob_uploads (sha256, size, sent_bytes) VALUES (?, ?, 0) ON CONFLICT(sha256) DO NOTHING", (sha, size))
    add_outbox(conn, MATERIALS_ATTACHED, {k: row[k] for k in ("application_id", "material", "sha256", "size", "media_type", "filename")}, at=row["created_at"])
    return row


def attach_material(store: Store, blobs_dir: Path, application_id: str, material: str, filename: str, content: bytes, agent: Mapping[str, str]) -> dict[str, Any]:
    """Add a material to an existing application (e.g. a supplement)."""
    media_type = check_upload(material, content)
    if store.one("SELECT 1 FROM applications WHERE id = ?", (application_id,)) is None:
        raise NotFound("没有找到这个办件")
    sha = write_blob(blobs_dir, content)
    with store.write() as conn:
        return record_material(conn, application_id, material, filename, sha, len(content), media_type, agent)


def list_materials(store: Store, application_id: str) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT m.*, b.sent_bytes, b.completed_at FROM materials m LEFT JOIN blob_uploads b ON b.sha256 = m.sha256 WHERE m.application_id = ? ORDER BY m.id",
        (application_id,),
    )
    return [dict(r) for r in rows]
