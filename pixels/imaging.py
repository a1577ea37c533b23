"""The published copy of a photo: derived by the product, never the upload itself.

Orientation applied, chosen faces pixelated beyond recovery, and written as a new JPEG made from
the pixels alone: nothing of the upload's file (EXIF, XMP, IPTC, comments, colour profiles, text
chunks) is carried over, and `pixels.hidden_data` reads the bytes that result.
"""

import io
from pathlib import Path

import cv2
from PIL import Image

# A face is reduced to this many blocks across: too few to recognise anyone, and the
# original pixels are gone (unlike a Gaussian blur, which can be partly undone).
PIXELATE_BLOCKS = 6
# Boxes from detection hug the face; widen them so hair and ears go too.
BLUR_MARGIN = 0.35
JPEG_QUALITY = 90


def widen(box, size, margin=BLUR_MARGIN):
    top, right, bottom, left = box
    width, height = right - left, bottom - top
    dx, dy = int(width * margin), int(height * margin)
    return max(0, top - dy), min(size[0], right + dx), min(size[1], bottom + dy), max(0, left - dx)


def pixelate(image: Image.Image, box) -> None:
    """Replace the box (top, right, bottom, left) in place with a few flat blocks."""
    top, right, bottom, left = widen(box, image.size)
    if right <= left or bottom <= top:
        return
    region = image.crop((left, top, right, bottom))
    blocks_x = max(1, min(PIXELATE_BLOCKS, region.width))
    blocks_y = max(1, round(blocks_x * region.height / max(region.width, 1)))
    small = region.resize((blocks_x, blocks_y), Image.Resampling.BOX)
    image.paste(small.resize(region.size, Image.Resampling.NEAREST), (left, top))


def pixelate_planes(planes, box, size) -> None:
    """The same pixelation, in place, on a YUV 4:2:0 picture's planes (numpy arrays: Y at full
    size, U and V at half): a video frame is blurred without converting it to RGB and back."""
    top, right, bottom, left = widen(box, size)
    if right <= left or bottom <= top:
        return
    blocks_x = max(1, min(PIXELATE_BLOCKS, right - left))
    blocks_y = max(1, round(blocks_x * (bottom - top) / max(right - left, 1)))
    luma, *chroma = planes
    for plane, step in [(luma, 1)] + [(c, 2) for c in chroma]:
        region = plane[top // step:-(-bottom // step), left // step:-(-right // step)]
        if region.size == 0:
            continue
        small = cv2.resize(region, (min(blocks_x, region.shape[1]), min(blocks_y, region.shape[0])), interpolation=cv2.INTER_AREA)
        region[:] = cv2.resize(small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_NEAREST)


def published_pixels(image: Image.Image, blur_boxes) -> Image.Image:
    """The pixels of the published copy: an already oriented image in RGB (transparency on
    white) with the given boxes pixelated. The image passed in is not changed."""
    # A new image, into which only pixels are pasted: Pillow carries `info` (a JPEG's comment,
    # a PNG's text, an ICC profile) through convert() and writes some of it back on save.
    clean = Image.new("RGB", image.size, "white")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        clean.paste(rgba, mask=rgba.getchannel("A"))
    else:
        clean.paste(image.convert("RGB"))
    for box in blur_boxes:
        pixelate(clean, box)
    return clean


def write_published_copy(image: Image.Image, blur_boxes, destination: Path) -> Path:
    """Save a clean JPEG of an already oriented image with the given faces pixelated."""
    image = published_pixels(image, blur_boxes)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # No exif=, xmp=, icc_profile=, comment= or dpi=: Pillow writes a bare JFIF header and the picture.
    # Encoded in memory, then written by Python: Pillow writing into a full disk leaves a cut-off
    # file without an error (seen with Pillow 13), where Python's write raises ENOSPC.
    encoded = io.BytesIO()
    image.save(encoded, "JPEG", quality=JPEG_QUALITY, optimize=True)
    with open(destination, "wb") as handle:
        handle.write(encoded.getbuffer())
    return destination
