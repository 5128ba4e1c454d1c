"""Material photos made fit for the link before they are stored and sent (issue: phone photos went
up at full size, 3–5 MB each, with GPS coordinates in their EXIF).

Pure: bytes in, bytes out, no files and no database. ``optimise`` is called once per upload at
intake; what it returns is the file the signed record names and the hub receives.

- **Size.** The long edge is capped at ``LONG_EDGE`` pixels and the photo is re-encoded as a JPEG
  at ``QUALITY``: a 12-megapixel phone photo of an A4 page shrinks to under a tenth, and its text
  and red seal stay legible (tests/edge_node/test_photos.py checks both). A PNG keeps being a PNG
  when that is the smaller encoding (a scan of black text, a signature drawn on screen).
- **Privacy.** Every image is decoded and re-encoded, never copied, so nothing of the original file
  survives but its pixels: no EXIF (GPS position, time, phone model, serial numbers), no XMP, no
  comment, no PNG text chunks. The ICC colour profile of a colour photo is kept: it is how a phone
  with a wide-gamut screen defines the red of the seal, and it identifies no one.
- **Orientation.** Phones store the sensor's pixels and a rotation tag; the tag is applied to the
  pixels, since it is stripped with the rest.
- PDFs are returned byte for byte: they may carry signatures or text layers a re-encoding would
  lose, and a scanner's PDF is already compressed.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from weblayer.errors import InvalidInput

__all__ = ["LONG_EDGE", "MAX_PIXELS", "QUALITY", "clean", "optimise"]

LONG_EDGE = 2000  # px: an A4 page at ~170 dpi — body text, ID numbers and a red seal stay legible
# JPEG quality: text edges stay clean at 80, and the bytes climb steeply above it (the tests'
# page photo at 2000 x 1500: 75 → 284 KB, 80 → 332 KB, 85 → 400 KB, 90 → 523 KB, 95 → 833 KB)
QUALITY = 80
# Pillow refuses to decode more pixels than this (a small file that decodes to gigabytes is a
# "decompression bomb"). 120 MP admits the 108 MP sensors of some phones; a 200 MP photo is
# mostly over the 20 MB upload limit anyway. Pillow's guard is process-wide; this module is the
# node's only user of Pillow (the QR codes on slips are SVG).
MAX_PIXELS = 120_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
UNREADABLE = "照片无法读取（文件可能已损坏或不完整），请重新拍照后上传"
TOO_MANY_PIXELS = f"照片像素过多（超过 {MAX_PIXELS // 1_000_000} 百万像素），请用手机的普通拍照模式重新拍照后上传"


def clean(content: bytes, media_type: str) -> tuple[bytes, str]:
    """The photo as taken, for a clerk who asked for the original (原图): full size, upright, at
    the quality it was taken (its own JPEG quantisation), and — like every photo that leaves the
    node — without its metadata (EXIF with GPS, XMP, comments). PDFs unchanged."""
    if media_type not in _FORMATS:
        return content, media_type
    try:
        image = _decode(content, _FORMATS[media_type], full_size=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(TOO_MANY_PIXELS) from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        EOFError,
        ValueError,
    ):  # ValueError: a PNG text or colour chunk that inflates past Pillow's limit
        raise InvalidInput(UNREADABLE) from None
    if media_type == "image/png":
        return _encode_png(image.picture, image.icc), "image/png"
    if image.qtables:
        return _encode_jpeg(image.picture, image.icc, qtables=image.qtables, subsampling=image.subsampling), "image/jpeg"
    return _encode_jpeg(image.picture, image.icc, quality=95), "image/jpeg"


def optimise(content: bytes, media_type: str) -> tuple[bytes, str]:
    """The file to store and send for an upload of ``media_type`` (as sniffed from its bytes):
    ``(content, media_type)``, a JPEG or PNG without metadata, or a PDF unchanged.

    Raises InvalidInput when the photo cannot be decoded (truncated, corrupt, or too many pixels)."""
    if media_type not in _FORMATS:
        return content, media_type
    try:
        image = _decode(content, _FORMATS[media_type])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # the warning too: where warnings are errors (the tests) Pillow raises it for an image
        # between MAX_PIXELS and twice that, instead of warning before _decode refuses it
        raise InvalidInput(TOO_MANY_PIXELS) from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        EOFError,
        ValueError,
    ):  # ValueError: a PNG text or colour chunk that inflates past Pillow's limit  # a truncated file fails in load(), not in open()
        raise InvalidInput(UNREADABLE) from None
    photo = _capped(image.picture)
    candidates = [(_encode_jpeg(photo, image.icc, quality=QUALITY), "image/jpeg")]
    if image.qtables:  # never at a higher quality than the photo was taken: that only adds bytes
        candidates.append((_encode_jpeg(photo, image.icc, qtables=image.qtables, subsampling=image.subsampling), "image/jpeg"))
    if media_type == "image/png":
        # a scan in a palette or in black and white stays at its own size: resampling it makes
        # grey edges, which multiply a PNG's size (a 300 dpi A4 text scan: 25–35 KB as it is, in
        # black and white or 4 colours; 95 KB at 2000 px even with 4 colours restored; 380 KB as
        # a JPEG)
        candidates.append((_encode_png(image.picture if image.picture.mode in ("1", "P") else photo, image.icc), "image/png"))
    return min(candidates, key=lambda candidate: len(candidate[0]))


class _Decoded(NamedTuple):
    """The picture as it should be seen (upright and opaque; a JPEG already decoded near
    LONG_EDGE), with what of the original file the encoders may use: its colour profile and its
    JPEG quantisation."""

    picture: Image.Image
    icc: bytes | None
    qtables: list[list[int]] | None
    subsampling: int


def _decode(content: bytes, pil_format: str, full_size: bool = False) -> _Decoded:
    with Image.open(io.BytesIO(content), formats=[pil_format]) as source:  # only the sniffed decoder
        width, height = source.size
        if width * height > MAX_PIXELS:
            raise Image.DecompressionBombError(f"{width}x{height}")
        target = _fit(source.size)
        if isinstance(source, JpegImagePlugin.JpegImageFile) and not full_size:  # MPO, the multi-picture JPEG of some phones, too
            # let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the target:
            # a 12 MP photo decodes as 3 MP, in a quarter of the time and memory
            source.draft(None, target)
        source.load()
        icc = source.info.get("icc_profile") if source.mode == "RGB" else None
        quantization = getattr(source, "quantization", None)  # JPEG sources only
        qtables = [list(table) for table in quantization.values()] if quantization else None
        subsampling = JpegImagePlugin.get_sampling(source) if qtables else -1
        picture = ImageOps.exif_transpose(source)
    picture = _opaque(picture)
    picture.info = {}  # the encoders read comments, transparency and more from here: nothing of the original
    return _Decoded(picture, icc, qtables, subsampling)


def _capped(picture: Image.Image) -> Image.Image:
    """``picture`` with its long edge at most LONG_EDGE."""
    if max(picture.size) <= LONG_EDGE:
        return picture
    if picture.mode in ("1", "P"):  # Pillow resizes these with nearest-neighbour: ragged text
        picture = picture.convert("L" if picture.mode == "1" else "RGB")
    return picture.resize(_fit(picture.size), Image.Resampling.LANCZOS)


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down so that its long edge is at most LONG_EDGE (never scaled up)."""
    width, height = size
    scale = min(1.0, LONG_EDGE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _opaque(picture: Image.Image) -> Image.Image:
    """Transparency flattened on white paper (a JPEG has none; a signature drawn on screen is black
    strokes on transparent pixels, which most viewers would show on black)."""
    if picture.has_transparency_data:
        rgba = picture.convert("RGBA")
        paper = Image.new("RGB", rgba.size, "white")
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    if picture.mode in ("1", "L", "P", "RGB"):
        return picture
    return picture.convert("RGB")  # CMYK, 16-bit and the rest


def _encode_jpeg(picture: Image.Image, icc: bytes | None, **quality: object) -> bytes:
    if picture.mode not in ("L", "RGB"):
        picture = picture.convert("L" if picture.mode == "1" else "RGB")
    out = io.BytesIO()
    # Pillow writes EXIF and XMP only when asked, a comment only from picture.info (emptied)
    picture.save(out, "JPEG", optimize=True, progressive=True, icc_profile=icc, **quality)
    return out.getvalue()


def _encode_png(picture: Image.Image, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    # zlib's default level, not optimize=True: on a 3 MP colour picture that takes 2 s instead of
    # 0.5 s, for 15 % fewer bytes of a PNG the JPEG beats anyway; on a text scan it saved 4 % on
    # one and cost 6 % on another
    picture.save(out, "PNG", icc_profile=icc)
    return out.getvalue()
