"""Receiving uploaded photos and videos: checked by their content, never by their name."""

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import av
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from config.school import files
from pixels import photos as faces
from pixels import video

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "video/mp4", "matroska,webm": "video/webm"}


class MediaRejected(ValueError):
    """The file cannot be used. The message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class Inspected:
    kind: str
    content_type: str
    width: int | None
    height: int | None
    seconds: float | None = None  # a video's length


def inspect_file(path: Path, name: str) -> Inspected:
    """Say what a file really is, or refuse it with a reason that names it (name: as its owner
    knows it; the file on disk has a generated name)."""
    # Photos are read exactly as the face engine reads them, so what is accepted here can be checked.

    try:
        fmt, image = faces.read_photo(path, name)
    except faces.ImageRejected as error:
        if not error.not_an_image:
            raise MediaRejected(str(error)) from None
        image_error = error
    else:
        width, height = image.size  # as shown: the EXIF orientation is applied
        image.close()
        return Inspected("image", IMAGE_TYPES[fmt], width, height)

    if not video.looks_like_video(path):
        raise MediaRejected(
            f"'{name}' is not a photo or video that can be read (it may be damaged, or another kind of file). "
            "Use a JPEG, PNG, WebP or HEIC photo, or an MP4, MOV or WebM video."
        ) from image_error
    # The same checks as the analysis makes: a picture, frames that decode, within the limits.
    try:
        info = video.inspect(path, name)
        with av.open(str(path)) as container:
            content_type = VIDEO_CONTAINERS[container.format.name]
    except video.VideoRejected as error:
        raise MediaRejected(str(error)) from None
    return Inspected("video", content_type, info.width, info.height, info.seconds)


def store_upload(uploaded) -> tuple[str, int, str, Inspected]:
    """Save an upload under a generated name, check it, and return (name, size, sha256, what it is).

    The user's file name never reaches the file system.
    """
    name = Path(uploaded.name or "upload").name
    who = f"'{name}'"
    stored_name = uuid.uuid4().hex
    path = files.new_file(files.UPLOADS, stored_name)
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "wb") as handle:  # new_file made it, empty, under a new name
            for chunk in uploaded.chunks():
                size += len(chunk)
                if size > settings.MEDIA_MAX_BYTES:
                    raise MediaRejected(f"{who} is larger than the {filesizeformat(settings.MEDIA_MAX_BYTES)} allowed.")
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise MediaRejected(f"{who} is empty (0 bytes): nothing was uploaded.")
        inspected = inspect_file(path, name)
        files.keep(files.UPLOADS, stored_name)
    except files.StorageProblem as error:
        path.unlink(missing_ok=True)
        raise MediaRejected(f"{who} could not be stored: {error} Nothing was added; try again in a few minutes, "
                            "or tell whoever looks after the server.") from error
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return stored_name, size, digest.hexdigest(), inspected


