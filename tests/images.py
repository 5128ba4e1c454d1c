"""Real images for tests that upload photos. The node decodes every photo it is given
(edge_node/photos.py), so a JPEG signature followed by filler bytes is refused as a broken file."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def photo(seed: int | str | bytes = 0, size: tuple[int, int] = (400, 300), format: str = "JPEG") -> bytes:
    """A small real photo, different for every ``seed``: grainy grey paper, as a JPEG or a PNG."""
    width, height = size
    grain = random.Random(seed).randbytes(width * height)
    picture = Image.frombytes("L", size, grain).point(lambda v: 200 + v // 16).convert("RGB")
    ImageDraw.Draw(picture).rectangle((width // 8, height // 3, width * 7 // 8, height // 3 + max(2, height // 30)), fill=(30, 30, 30))
    out = io.BytesIO()
    picture.save(out, format, **({"quality": 90} if format == "JPEG" else {}))
    return out.getvalue()


def signature(size: tuple[int, int] = (480, 200)) -> bytes:
    """A signature as the intake page's canvas sends it: black strokes on transparent pixels (PNG)."""
    width, height = size
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line(
        [(width // 20, height * 3 // 4), (width // 3, height // 5), (width // 2, height * 2 // 3), (width * 19 // 20, height // 4)],
        fill=(0, 0, 0, 255),
        width=4,
    )
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()


def document_photo(seed: int = 0, size: tuple[int, int] = (4000, 3000), quality: int = 92, lines: int = 40) -> bytes:
    """A phone photo of a printed A4 form (12 MP by default): off-white paper lit unevenly, lines
    of dark "text", a red seal, with EXIF orientation and GPS as a phone writes them."""
    width, height = size
    rng = random.Random(seed)
    paper = Image.linear_gradient("L").resize(size).point(lambda v: 225 + v // 10).convert("RGB")
    draw = ImageDraw.Draw(paper)
    for line in range(lines):
        y = height // 12 + line * (height * 5 // 6) // lines
        x = width // 10
        while x < width * 9 // 10:
            word = rng.randint(width // 60, width // 15)
            draw.rectangle((x, y, x + word, y + height // 120), fill=(rng.randint(20, 60),) * 3)
            x += word + width // 80
    cx, cy, r = width * 3 // 4, height * 4 // 5, height // 10
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(200, 30, 30), width=height // 80)
    exif = Image.Exif()
    exif[0x0112] = 1
    exif.get_ifd(0x8825).update({1: "N", 2: (27.0, 6.0, 30.0), 3: "E", 4: (111.0, 2.0, 10.0)})
    out = io.BytesIO()
    paper.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()
