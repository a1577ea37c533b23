"""Receiving uploaded photos and videos: checked by their content, never by their name."""

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import av
import pillow_heif
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageFile

pillow_heif.register_heif_opener()

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
# EXIF orientations that turn the picture on its side: width and height swap once applied.
SIDEWAYS = {5, 6, 7, 8}
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "video/mp4", "matroska,webm": "video/webm"}


class MediaRejected(ValueError):
    """The file cannot be used. The message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class Inspected:
    kind: str
    content_type: str
    width: int | None
    height: int | None


def inspect_file(path: Path) -> Inspected:
    """Say what a file really is, or refuse it with a reason."""
    # The face_recognition package turns this on when imported; a truncated upload must be refused.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    image_error = None
    try:
        with Image.open(path) as image:
            fmt = image.format
            width, height = image.size
            if width * height > settings.MEDIA_MAX_PIXELS:
                raise MediaRejected(
                    f"The photo is {width}×{height} pixels, more than the {settings.MEDIA_MAX_PIXELS:,} allowed. Resize it and try again."
                )
            if getattr(image, "n_frames", 1) > 1 and fmt != "HEIF":
                raise MediaRejected("Animated images are not accepted: use a still photo, or a video.")
            if image.getexif().get(0x0112) in SIDEWAYS:
                width, height = height, width
        # verify() must come straight after opening, so the file is opened again for it; a
        # full decode then finds what verify() does not, such as a truncated JPEG.
        if fmt != "HEIF":  # pillow-heif has no verify()
            with Image.open(path) as image:
                image.verify()
        with Image.open(path) as image:
            image.load()
        if fmt not in IMAGE_TYPES:
            raise MediaRejected(f"{fmt} images are not accepted. Use JPEG, PNG, WebP or HEIC.")
        return Inspected("image", IMAGE_TYPES[fmt], width, height)
    except MediaRejected:
        raise
    except Image.DecompressionBombError:
        raise MediaRejected("The photo is far too large to be opened safely. Resize it and try again.") from None
    except Exception as error:  # Pillow raises many kinds for a file it cannot read
        image_error = error
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                raise MediaRejected("The file has no video in it.")
            stream = streams[0]
            content_type = VIDEO_CONTAINERS.get(container.format.name)
            if content_type is None:
                raise MediaRejected(f"Videos in the {container.format.long_name} format are not accepted. Use MP4 or WebM.")
            return Inspected("video", content_type, stream.codec_context.width, stream.codec_context.height)
    except MediaRejected:
        raise
    except Exception:
        raise MediaRejected(
            "The file is not a photo or video that can be read (it may be damaged, or of another kind). "
            "Use a JPEG, PNG, WebP or HEIC photo, or an MP4 or WebM video."
        ) from image_error


def store_upload(uploaded) -> tuple[str, int, str, Inspected]:
    """Save an upload under a generated name, check it, and return (name, size, sha256, what it is).

    The user's file name never reaches the file system.
    """
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    stored_name = uuid.uuid4().hex
    path = settings.UPLOAD_DIR / stored_name
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "xb") as handle:
            for chunk in uploaded.chunks():
                size += len(chunk)
                if size > settings.MEDIA_MAX_BYTES:
                    raise MediaRejected(f"The file is larger than the {filesizeformat(settings.MEDIA_MAX_BYTES)} allowed.")
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise MediaRejected("The file is empty.")
        inspected = inspect_file(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return stored_name, size, digest.hexdigest(), inspected


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
