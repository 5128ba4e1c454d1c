"""Assemble attachment chunks and verify them against their SHA-256.

A chunk is written at its offset into ``parts/<node>/<sha256>``, the sending point's own copy
(idempotent: redelivery writes the same bytes again), and recorded; when the recorded chunks
cover the size, the file is hashed and, only if it matches, renamed to ``<sha256>`` and marked
complete. Each point assembles apart, so every chunk of a mismatch came from one point: it is
dropped with an alert against that point, and a clean resend starts over. Until then every
application naming that hash shows its materials as incomplete. Completion queues a
``material.received`` receipt, in the same transaction, to the sending point and to every other
point with an upload of the same file under way: only then may a point delete its copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, func, select

from sync_protocol import MATERIAL_RECEIVED, MAX_BLOB_BYTES, blob_from_subject

from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import Alert, Blob, BlobChunk, BlobUpload, Material, Node

log = logging.getLogger("yiwang.hub.blobs")
# What one point may keep unfinished at the hub, however it sends: a node sends its files one at a
# time (and resumes the one it was sending), so 8 is room to spare, and 8 x MAX_BLOB_BYTES of disk
# is the most a hostile point can hold. One left without a chunk for STALE_UPLOAD is dropped when
# that point begins another; its point resends from what the hub then says it holds.
MAX_UNFINISHED_UPLOADS = 8
STALE_UPLOAD = timedelta(days=7)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def receive_chunk(engine: Engine, blobs_dir: Path, subject: str, offset: int, size: int, data: bytes) -> str:
    """Store one chunk; return "stored", "complete", "duplicate" or "rejected: <why>"."""
    parsed = blob_from_subject(subject)
    if parsed is None:
        return "rejected: not a blob subject"
    node_id, sha = parsed
    if not (0 < size <= MAX_BLOB_BYTES) or offset < 0 or offset + len(data) > size or not data:
        return f"rejected: chunk {offset}+{len(data)} outside a blob of {size} bytes"
    with transaction(engine) as session:
        node = session.get(Node, node_id)
        if node is None or node.status != "enrolled":
            return "rejected: unknown or revoked node"
        blob = session.get(Blob, sha)
        if blob is not None and blob.complete_at is not None:
            if node_id != blob.node_id and offset + len(data) == size:
                _receipt(session, node_id, blob)  # another point had the same file: it may purge too
            return "duplicate"
        upload = session.get(BlobUpload, (sha, node_id))
        if upload is None:
            if not _room_for_another(session, blobs_dir, node_id):
                return f"rejected: {node_id} has {MAX_UNFINISHED_UPLOADS} unfinished uploads"
            upload = BlobUpload(sha256=sha, node_id=node_id, size=size)
        upload.updated_at = utcnow()
        if upload.size != size:
            return f"rejected: a chunk of a {size}-byte file, begun as {upload.size} bytes"
        known = session.get(BlobChunk, (sha, node_id, offset))
        if known is not None and known.length >= len(data):
            return "duplicate"
        part = blobs_dir / "parts" / node_id / sha
        part.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "r+b" if part.exists() else "w+b") as f:
            f.seek(offset)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if known is not None:
            known.length = len(data)  # the same offset again with more bytes (a larger chunk after a resume)
            session.add(known)
        else:
            session.add(BlobChunk(sha256=sha, node_id=node_id, offset=offset, length=len(data)))
        session.flush()
        if offset <= upload.received_bytes:  # the usual case: the next chunk in order, joined with any that came early
            later = session.exec(
                select(BlobChunk.offset, BlobChunk.length)
                .where(BlobChunk.sha256 == sha, BlobChunk.node_id == node_id, col(BlobChunk.offset) > upload.received_bytes)
                .order_by(col(BlobChunk.offset))
            ).all()
            upload.received_bytes = covered([(0, upload.received_bytes), (offset, len(data)), *later])
        session.add(upload)
        if upload.received_bytes < upload.size:
            return "stored"
        if _sha256_file(part) != sha:
            # the bytes do not match the name the signed record gave them, and every one of them
            # came from this point: drop its upload and start over
            _drop_upload(session, blobs_dir, upload)
            session.add(
                Alert(
                    kind="blob.mismatch", node_id=node_id, message=f"附件 {sha[:12]}… 的内容与其 SHA-256 不符，已丢弃，等待重传", created_at=utcnow()
                )
            )
            log.warning("attachment %s from %s does not match its hash; dropped", sha, node_id)
            return "rejected: content does not match its SHA-256"
        os.replace(part, blobs_dir / sha)
        blob = Blob(sha256=sha, node_id=node_id, size=size, received_bytes=size, complete_at=utcnow())
        session.merge(blob)
        for other in session.exec(select(BlobUpload).where(BlobUpload.sha256 == sha)).all():  # this one, and any other point's under way
            _drop_upload(session, blobs_dir, other)
            _receipt(session, other.node_id, blob)
    log.info("attachment %s… complete (%d bytes) from %s", sha[:12], size, node_id)
    return "complete"


def _room_for_another(session: Session, blobs_dir: Path, node_id: str) -> bool:
    """Drop the point's stale uploads; then whether it may begin one more (an alert, once, when not)."""
    for stale in session.exec(select(BlobUpload).where(BlobUpload.node_id == node_id, col(BlobUpload.updated_at) < utcnow(-STALE_UPLOAD))).all():
        _drop_upload(session, blobs_dir, stale)
    unfinished = len(session.exec(select(BlobUpload.sha256).where(BlobUpload.node_id == node_id)).all())
    if unfinished < MAX_UNFINISHED_UPLOADS:
        return True
    if (
        session.exec(
            select(Alert).where(Alert.kind == "blob.too_many", Alert.node_id == node_id, col(Alert.created_at) >= utcnow(-STALE_UPLOAD))
        ).first()
        is None
    ):
        session.add(
            Alert(
                kind="blob.too_many",
                node_id=node_id,
                created_at=utcnow(),
                message=f"该服务点在县中枢有 {unfinished} 个未传完的附件，新的附件暂不接收；正常的服务点一次只传一个，请检查该设备",
            )
        )
        log.warning("%s has %d unfinished uploads; refusing another", node_id, unfinished)
    return False


def _drop_upload(session: Session, blobs_dir: Path, upload: BlobUpload) -> None:
    session.exec(delete(BlobChunk).where(col(BlobChunk.sha256) == upload.sha256, col(BlobChunk.node_id) == upload.node_id))
    if session.get(BlobUpload, (upload.sha256, upload.node_id)) is not None:
        session.delete(upload)
    (blobs_dir / "parts" / upload.node_id / upload.sha256).unlink(missing_ok=True)


def forget_shared_parts(blobs_dir: Path) -> None:
    """Delete the part files of hub versions before per-point uploads (``parts/<sha256>``): their
    chunk records are gone (hub migration 10), and their points send those files again."""
    for path in (blobs_dir / "parts").glob("*"):
        if path.is_file():
            path.unlink()


def uploaded(session: Session, sha256: str, node_id: str) -> int:
    """How many bytes of its file ``node_id`` has stored here: all of them once it completed
    the file; what its own upload covers before that (another point's upload is not its business)."""
    blob = session.get(Blob, sha256)
    if blob is not None and blob.complete_at:
        return blob.size if blob.node_id == node_id else 0
    upload = session.get(BlobUpload, (sha256, node_id))
    return upload.received_bytes if upload is not None else 0


def covered(chunks: list[tuple[int, int]] | list) -> int:
    """How many bytes from the start the stored chunks cover without a hole. A node sizes its
    chunks for its link, so after a resumed transfer chunks may overlap: summing their lengths
    would count bytes twice and call a file with a hole complete."""
    end = 0
    for offset, length in sorted(chunks):
        if offset > end:
            break
        end = max(end, offset + length)
    return end


def _receipt(session: Session, node_id: str, blob: Blob) -> None:
    queue_downlink(session, node_id, MATERIAL_RECEIVED, {"sha256": blob.sha256, "size": blob.size, "received_at": blob.complete_at})


def materials_of(session: Session, application_id: str) -> list[dict]:
    rows = session.exec(
        select(Material, Blob).join(Blob, col(Blob.sha256) == col(Material.sha256), isouter=True).where(Material.application_id == application_id)
    ).all()
    progress = {
        sha: received
        for sha, received in session.exec(
            select(BlobUpload.sha256, func.max(BlobUpload.received_bytes))
            .where(col(BlobUpload.sha256).in_([m.sha256 for m, _ in rows]))
            .group_by(col(BlobUpload.sha256))
        ).all()
    }
    return [
        {
            "material": m.material,
            "sha256": m.sha256,
            "size": m.size,
            "media_type": m.media_type,
            "filename": m.filename,
            "arrived": bool(b is not None and b.complete_at),
            "received_bytes": b.size if b is not None and b.complete_at else progress.get(m.sha256, 0),
        }
        for m, b in rows
    ]


def blob_file(blobs_dir: Path, engine: Engine, sha256: str) -> Path | None:
    """The verified file for ``sha256``, or None while it is incomplete."""
    with Session(engine) as session:
        blob = session.get(Blob, sha256)
    return blobs_dir / sha256 if blob is not None and blob.complete_at else None
