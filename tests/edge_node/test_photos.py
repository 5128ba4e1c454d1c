"""Material photos are optimised on the node before upload: smaller, upright, without EXIF/GPS,
still legible. Real Pillow images throughout; the intake tests use real SQLite and real files."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from edge_node import cases, materials, photos
from tests.support.builders import AGENT, resident_id
from tests.support.nodes import Node
from weblayer.errors import InvalidInput

from ..images import photo, signature

SENSOR = (4000, 3000)  # a 12 MP phone camera, held sideways over an A4 certificate
SEAL = (3000, 2200)  # the centre of the red seal, in the pixels as the sensor stored them
MAP_DATUM = b"WGS-84"  # GPSMapDatum: ASCII inside the GPS IFD, so its absence from the bytes means something
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="27,6.5N" exif:GPSLongitude="111,2.1E"/></rdf:RDF></x:xmpmeta>'


def upright(x: int, y: int) -> tuple[int, int]:
    """Where sensor pixel (x, y) is in the optimised photo: Orientation 6 turns it 90° clockwise
    (4000 x 3000 → 3000 x 4000), then the long edge is halved to 2000."""
    return (SENSOR[1] - 1 - y) // 2, x // 2


@pytest.fixture(scope="module")
def page() -> Image.Image:
    """The certificate as the sensor saw it: paper lit unevenly, black text lines, a red seal, and
    sensor grain so that it compresses like a real photo rather than like a drawing."""
    width, height = SENSOR
    light = Image.linear_gradient("L").resize(SENSOR).point(lambda v: 235 - v // 12)
    picture = Image.merge("RGB", [light] * 3)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=64)
    for line in range(28):
        draw.text((300, 250 + line * 90), f"Certificate line {line:02d}: holder, ID number, address, date of issue", fill=(20, 20, 20), font=font)
    cx, cy = SEAL
    draw.ellipse((cx - 300, cy - 300, cx + 300, cy + 300), outline=(200, 25, 30), width=40)
    draw.ellipse((cx - 70, cy - 70, cx + 70, cy + 70), fill=(200, 25, 30))
    grain = Image.frombytes("L", SENSOR, random.Random(7).randbytes(width * height)).point(lambda v: 122 + v * 13 // 256)  # ±6 levels
    return ImageChops.add(picture, Image.merge("RGB", [grain] * 3), offset=-128)


@pytest.fixture(scope="module")
def phone_photo(page: Image.Image) -> bytes:
    """``page`` saved the way a phone does: JPEG at quality 95, with a rotation tag, the camera,
    the time and the GPS position in its EXIF, the position again in XMP, and a comment."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x010F], exif[0x0110] = "YiwangPhone", "YP-12 Pro"  # Make, Model
    exif.get_ifd(0x8769)[0x9003] = "2026:11:23 09:15:02"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (27.0, 6.0, 30.5), 3: "E", 4: (111.0, 2.0, 10.25), 18: MAP_DATUM.decode()})
    out = io.BytesIO()
    page.save(out, "JPEG", quality=95, exif=exif, xmp=XMP, comment=b"shot at the window of Shangcun")
    return out.getvalue()


@pytest.fixture(scope="module")
def optimised(phone_photo: bytes) -> tuple[bytes, str]:
    return photos.optimise(phone_photo, "image/jpeg")


def red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 150 and g < 90 and b < 90


def test_a_phone_photo_goes_up_at_under_a_tenth_of_its_size_with_its_long_edge_capped(phone_photo, optimised):
    content, media_type = optimised
    assert 3_000_000 <= len(phone_photo) <= 6_000_000  # the issue's 3–5 MB phone photo
    assert media_type == "image/jpeg" and len(content) <= len(phone_photo) // 10
    with Image.open(io.BytesIO(content)) as out:
        assert out.format == "JPEG" and max(out.size) == photos.LONG_EDGE


def test_the_rotation_tag_is_applied_to_the_pixels(optimised):
    with Image.open(io.BytesIO(optimised[0])) as out:
        assert out.size == (1500, 2000)  # portrait, as the agent held the page
        assert red(out.getpixel(upright(*SEAL)))
        turned_the_wrong_way = (SEAL[1] // 2, (SENSOR[0] - 1 - SEAL[0]) // 2)
        assert not red(out.getpixel(turned_the_wrong_way))


def test_no_metadata_survives(phone_photo, optimised):
    for marker in (b"Exif\x00\x00", MAP_DATUM, b"YiwangPhone", b"2026:11:23", b"GPSLatitude", b"http://ns.adobe.com/xap/1.0/", b"Shangcun"):
        assert marker in phone_photo  # present before, so that its absence after means something
        assert marker not in optimised[0]
    with Image.open(io.BytesIO(optimised[0])) as out:
        assert 0x8825 not in out.getexif() and 0x0112 not in out.getexif() and len(out.getexif()) == 0
        assert not {"exif", "xmp", "comment"} & set(out.info)


def test_the_text_and_the_red_seal_stay_legible(page, optimised):
    with Image.open(io.BytesIO(optimised[0])) as out:
        out.load()
        # the seal: its filled centre and a point on its ring are still seal red
        assert red(out.getpixel(upright(*SEAL))) and red(out.getpixel(upright(SEAL[0] + 280, SEAL[1])))
        # the text: the strokes of the first line are still near black on light paper
        first_line = out.crop((upright(0, 250 + 60)[0], upright(300, 0)[1], upright(0, 250)[0], upright(1500, 0)[1])).convert("L")
        darkest, lightest = first_line.getextrema()
        assert darkest < 70 and lightest > 180
        # and the whole page is what the photo showed, halved: on average within a few levels
        reference = page.transpose(Image.Transpose.ROTATE_270).resize(out.size, Image.Resampling.LANCZOS)  # what Orientation 6 means
        difference = ImageStat.Stat(ImageChops.difference(out.convert("RGB"), reference)).mean
        assert max(difference) < 4, difference


def test_a_pdf_is_returned_byte_for_byte():
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    content, media_type = photos.optimise(pdf, "application/pdf")
    assert content == pdf and media_type == "application/pdf"


@pytest.mark.parametrize("broken", ["truncated", "garbage", "png_garbage"])
def test_a_photo_that_cannot_be_read_is_refused_with_a_chinese_message(phone_photo, broken):
    content, media_type = {
        "truncated": (phone_photo[: len(phone_photo) // 2], "image/jpeg"),  # the upload broke off
        "garbage": (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20, "image/jpeg"),
        "png_garbage": (b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"),
    }[broken]
    with pytest.raises(InvalidInput) as err:
        photos.optimise(content, media_type)
    assert "无法读取" in err.value.message and "重新拍照" in err.value.message


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming ``width`` x ``height`` black-and-white pixels, in 80 bytes: what a
    decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [11_000, 20_000])  # 121 MP: over the limit; 400 MP: over twice the limit
def test_a_decompression_bomb_is_refused_before_it_is_decoded(side):
    assert side * side > photos.MAX_PIXELS
    with pytest.raises(InvalidInput, match="像素过多"):
        photos.optimise(png_header_only(side, side), "image/png")


def test_a_small_photo_does_not_grow_and_loses_its_metadata_all_the_same():
    exif = Image.Exif()
    exif.get_ifd(0x8825)[18] = MAP_DATUM.decode()
    with Image.open(io.BytesIO(photo(3, (640, 480)))) as small:
        out = io.BytesIO()
        small.save(out, "JPEG", quality=50, exif=exif)  # already compressed harder than QUALITY
    content, media_type = photos.optimise(out.getvalue(), "image/jpeg")
    assert media_type == "image/jpeg" and len(content) <= len(out.getvalue())
    assert MAP_DATUM in out.getvalue() and MAP_DATUM not in content
    with Image.open(io.BytesIO(content)) as result:
        assert result.size == (640, 480)


def test_a_text_scan_stays_a_png_and_a_png_photo_becomes_a_jpeg():
    scan = Image.new("P", (1654, 2339), 0)  # A4 at 200 dpi, in a two-colour palette as scanners save text
    scan.putpalette([255, 255, 255, 0, 0, 0])
    draw = ImageDraw.Draw(scan)
    font = ImageFont.load_default(size=28)
    for line in range(60):
        draw.text((100, 100 + line * 35), f"Line {line} of a scanned certificate, black text on white paper", fill=1, font=font)
    out = io.BytesIO()
    scan.save(out, "PNG")
    content, media_type = photos.optimise(out.getvalue(), "image/png")
    assert media_type == "image/png" and len(content) <= len(out.getvalue()) * 1.05  # about its own size
    with Image.open(io.BytesIO(content)) as kept, Image.open(io.BytesIO(out.getvalue())) as given:
        # kept whole, not capped at LONG_EDGE: a JPEG of it at 2000 px is fifty times larger
        assert kept.mode == "P" and kept.size == scan.size and ImageChops.difference(kept.convert("L"), given.convert("L")).getbbox() is None

    png_photo = photo(5, (800, 600), format="PNG")
    content, media_type = photos.optimise(png_photo, "image/png")
    assert media_type == "image/jpeg" and len(content) < len(png_photo) // 2


def test_a_signature_drawn_on_screen_is_flattened_on_white_and_stays_a_png():
    content, media_type = photos.optimise(signature(), "image/png")
    assert media_type == "image/png"
    with Image.open(io.BytesIO(content)) as flat:
        assert flat.size == (480, 200) and "A" not in flat.getbands() and "transparency" not in flat.info
        assert flat.convert("L").getpixel((5, 5)) == 255  # white paper, not transparent (black in many viewers)
        assert flat.convert("L").getextrema()[0] < 50  # and the strokes are still there


# --- at intake: what is stored, sent and recorded -------------------------------------------------


@pytest.fixture
def node(tmp_path: Path):
    node = Node(tmp_path)
    yield node
    node.store.close()


def files_in(blobs_dir: Path) -> set[str]:
    return {p.name for p in blobs_dir.iterdir()} if blobs_dir.exists() else set()


def test_intake_sends_the_optimised_photo_and_keeps_the_original_until_the_copy_is_purged(node: Node, phone_photo: bytes):
    app = cases.submit_application(
        node.store,
        {"item_code": "MZ-003", "applicant_name": "李桂芳", "applicant_id_number": resident_id(8)},
        AGENT,
        node.blobs_dir,
        [("居民身份证", "IMG_0001.jpg", phone_photo)],
    )
    [row] = materials.list_materials(node.store, node.blobs_dir, app["id"])
    sent = materials.blob_path(node.blobs_dir, row["sha256"]).read_bytes()
    assert hashlib.sha256(sent).hexdigest() == row["sha256"] and len(sent) == row["size"] <= len(phone_photo) // 10
    assert row["media_type"] == "image/jpeg" and MAP_DATUM not in sent
    # the original stays here, named by its hash, with its size
    assert row["original_sha256"] == hashlib.sha256(phone_photo).hexdigest() and row["original_size"] == len(phone_photo)
    assert materials.blob_path(node.blobs_dir, row["original_sha256"]).read_bytes() == phone_photo
    # what goes up is the optimised file: the upload job and the signed record name it
    upload = node.store.one("SELECT size FROM blob_uploads WHERE sha256 = ?", (row["sha256"],))
    assert upload is not None and upload["size"] == len(sent)
    assert node.store.one("SELECT 1 FROM blob_uploads WHERE sha256 = ?", (row["original_sha256"],)) is None  # never sent
    event = json.loads(node.store.one("SELECT data_json FROM outbox WHERE kind = 'materials.attached'")["data_json"])
    assert (event["sha256"], event["size"], event["media_type"], event["filename"]) == (row["sha256"], len(sent), "image/jpeg", "IMG_0001.jpg")

    node.receipt(row["sha256"], row["size"])
    assert materials.purge_received(node.store, node.blobs_dir, 7) == 0 and len(files_in(node.blobs_dir)) == 2  # inside the retention period
    assert materials.purge_received(node.store, node.blobs_dir, 7, now=datetime.now(UTC) + timedelta(days=7, minutes=1)) == 1
    assert files_in(node.blobs_dir) == set()  # the copy and the original, both


def test_a_pdf_is_sent_as_it_is_and_an_attached_photo_optimised(node: Node, phone_photo: bytes):
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 12
    stored_pdf = materials.attach_material(node.store, node.blobs_dir, node.app["id"], "户口簿", "户口簿.pdf", pdf, AGENT)
    assert stored_pdf["sha256"] == hashlib.sha256(pdf).hexdigest() and stored_pdf["original_sha256"] is None and stored_pdf["original_size"] is None
    stored_photo = materials.attach_material(node.store, node.blobs_dir, node.app["id"], "居民身份证", "id.jpg", phone_photo, AGENT)
    assert stored_photo["size"] <= len(phone_photo) // 10 and stored_photo["original_sha256"] == hashlib.sha256(phone_photo).hexdigest()
    assert files_in(node.blobs_dir) == {stored_pdf["sha256"], stored_photo["sha256"], stored_photo["original_sha256"]}


def test_a_broken_photo_refuses_the_whole_intake_and_writes_nothing(node: Node, phone_photo: bytes):
    form = {"item_code": "MZ-003", "applicant_name": "李桂芳", "applicant_id_number": resident_id(9)}
    uploads = [("户口簿", "hukou.jpg", photo(1)), ("居民身份证", "id.jpg", phone_photo[:200_000])]
    with pytest.raises(InvalidInput) as err:
        cases.submit_application(node.store, form, AGENT, node.blobs_dir, uploads)
    assert err.value.field == "file_1" and "居民身份证" in err.value.message and "重新拍照" in err.value.message
    assert files_in(node.blobs_dir) == set() and node.store.one("SELECT COUNT(*) FROM materials")[0] == 0


def test_a_png_photo_sent_as_a_jpeg_is_named_so(node: Node):
    row = materials.attach_material(node.store, node.blobs_dir, node.app["id"], "居民身份证", "身份证.png", photo(2, format="PNG"), AGENT)
    assert row["media_type"] == "image/jpeg" and row["filename"] == "身份证.jpg"


def test_an_original_another_kept_copy_still_needs_is_not_purged(node: Node, phone_photo: bytes):
    """A photo attached before this node optimised photos was sent as it was; attached again now,
    those same bytes are the new material's original. Purging the new copy must not delete the
    old one's file before its own receipt."""
    legacy_sha = materials.write_blob(node.blobs_dir, phone_photo)  # as intake stored it before optimisation
    with node.store.write() as conn:
        materials.record_material(
            conn, node.app["id"], "居民身份证", materials.StoredFile("old.jpg", legacy_sha, len(phone_photo), "image/jpeg", None, None), AGENT
        )
    again = materials.attach_material(node.store, node.blobs_dir, node.app["id"], "居民身份证", "new.jpg", phone_photo, AGENT)
    assert again["original_sha256"] == legacy_sha
    node.receipt(again["sha256"], again["size"])
    assert materials.purge_received(node.store, node.blobs_dir, 0) == 1
    assert files_in(node.blobs_dir) == {legacy_sha}  # still to be sent as the old material
    node.receipt(legacy_sha, len(phone_photo))
    assert materials.purge_received(node.store, node.blobs_dir, 0) == 1
    assert files_in(node.blobs_dir) == set()


def test_a_node_file_from_before_optimisation_opens_and_purges_its_materials(tmp_path: Path):
    """A node upgraded from the version before this one (migration 11): its materials have no
    original; they open, list and are purged as before."""
    import sqlite3

    from sqlite_utils import Database

    from edge_node.store import MIGRATIONS, Store

    path, blobs_dir = tmp_path / "old.sqlite3", tmp_path / "blobs"
    conn = sqlite3.connect(path)
    for number, migration in enumerate(MIGRATIONS[:11], start=1):
        migration(Database(conn))
        conn.execute(f"PRAGMA user_version = {number}")
    sha = materials.write_blob(blobs_dir, b"\xff\xd8\xff\xe0 sent as it was")
    conn.execute(
        "INSERT INTO applications (id, receipt_no, item_code, applicant_name, applicant_id_number, status, created_at) VALUES ('a1', 'r1', 'MZ-003', '张三', 'x', 'submitted', 't')"
    )
    conn.execute(
        "INSERT INTO materials (application_id, material, sha256, size, media_type) VALUES ('a1', '居民身份证', ?, 20, 'image/jpeg')", (sha,)
    )
    conn.execute("INSERT INTO blob_uploads (sha256, size, sent_bytes, received_at) VALUES (?, 20, 20, '2026-01-01T00:00:00.000000Z')", (sha,))
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert store.one("PRAGMA user_version")[0] == len(MIGRATIONS)
        [row] = materials.list_materials(store, blobs_dir, "a1")
        assert row["original_sha256"] is None and row["original_size"] is None and row["stored_here"] is True
        assert materials.purge_received(store, blobs_dir, 7) == 1 and files_in(blobs_dir) == set()
    finally:
        store.close()


def test_an_original_asked_for_goes_full_size_upright_and_without_its_metadata(node: Node, phone_photo: bytes):
    """原图: the clerk gets every pixel the phone took, not where or with what it was taken."""
    app = cases.submit_application(
        node.store,
        {"item_code": "MZ-003", "applicant_name": "李桂芳", "applicant_id_number": resident_id(9)},
        AGENT,
        node.blobs_dir,
        [("居民身份证", "IMG_0002.jpg", phone_photo)],
    )
    [row] = materials.list_materials(node.store, node.blobs_dir, app["id"])
    assert materials.queue_originals(node.store, node.blobs_dir, [row["sha256"], "ff" * 32]) == {"queued": [row["sha256"]], "gone": ["ff" * 32]}
    assert materials.queue_originals(node.store, node.blobs_dir, [row["sha256"]]) == {
        "queued": [row["sha256"]],
        "gone": [],
    }  # asked twice: queued once
    rows = materials.list_materials(node.store, node.blobs_dir, app["id"])
    [original] = [r for r in rows if r["material"] == "居民身份证（原图）"]
    sent = materials.blob_path(node.blobs_dir, original["sha256"]).read_bytes()
    with Image.open(io.BytesIO(sent)) as out:
        assert out.size == (SENSOR[1], SENSOR[0])  # every pixel, turned upright
        assert len(out.getexif()) == 0
    for marker in (b"Exif\x00\x00", MAP_DATUM, b"YiwangPhone", b"GPSLatitude"):
        assert marker in phone_photo and marker not in sent
    upload = node.store.one("SELECT requested, completed_at FROM blob_uploads WHERE sha256 = ?", (original["sha256"],))
    assert upload["requested"] == 1 and upload["completed_at"] is None  # sent even while metered
    assert node.store.one("SELECT COUNT(*) FROM outbox WHERE kind = 'materials.attached'")[0] == 2


def test_todays_traffic_survives_a_restart_and_starts_again_on_a_new_beijing_day(node: Node):
    from edge_node.link import DailyBytes

    usage = DailyBytes.load(node.store)
    usage.count(up=1200, down=300)
    usage.save(node.store)
    again = DailyBytes.load(node.store)
    assert (again.up, again.down) == (1200, 300)
    with node.store.write() as conn:
        conn.execute("UPDATE meta SET value = '2020-01-01 99 99' WHERE key = 'bytes_today'")
    assert (DailyBytes.load(node.store).up, DailyBytes.load(node.store).down) == (0, 0)
    with node.store.write() as conn:
        conn.execute("UPDATE meta SET value = 'garbage' WHERE key = 'bytes_today'")
    assert DailyBytes.load(node.store).up == 0


def _png_with(chunk_type: bytes, payload: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + bytes(8) for _ in range(8))))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(chunk_type, payload) + pixels + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "kind, payload",
    [
        (b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 2_000_000, 9)),
        (b"iCCP", b"icc\x00\x00" + zlib.compress(b"\x00" * 2_000_000, 9)),
    ],
)
def test_a_png_whose_text_or_colour_chunk_inflates_too_far_is_refused_not_a_500(kind, payload):
    with pytest.raises(InvalidInput) as err:
        photos.optimise(_png_with(kind, payload), "image/png")
    assert "无法读取" in err.value.message
