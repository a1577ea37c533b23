"""Files that must be refused, built in memory: the bad input of the photo checks."""

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
POSTS = TESTDATA / "faces" / "posts"


def png_bytes(size=(60, 40), mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, size, "blue" if mode == "RGB" else 0).save(buffer, "PNG")
    return buffer.getvalue()


def bomb_png(width=20_000, height=10_000) -> bytes:
    """A valid 200-megapixel PNG of a few kilobytes: one bit a pixel, every pixel black."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def corrupt_png() -> bytes:
    data = bytearray(png_bytes((300, 200)))
    start = data.index(b"IDAT") + 4
    data[start + 10:start + 60] = b"\xff" * 50  # the compressed pixels, not the header
    return bytes(data)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = (POSTS / "two_people.jpg").read_bytes()
    return data[: len(data) // 2]


BAD_FILES = [
    ("empty.jpg", lambda: b"", "is empty (0 bytes)"),
    ("broken.png", corrupt_png, "is damaged"),
    ("cut-off.jpg", truncated_jpeg, "is truncated"),
    ("notes.jpg", lambda: b"Dear parents, the trip is on Friday.\n" * 20, "is not a photo that can be read"),
    ("photo.jpg", png_bytes, "is named as a JPG file but its content is a PNG image"),
    ("bomb.png", bomb_png, "decompression bomb"),
    ("wave.gif", animated_gif, "is an animated GIF (3 frames)"),
]
