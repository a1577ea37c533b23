"""Reading a photo safely, as people will see it, and naming the metadata it carries.

Every photo the product looks at (enrolment, `check_media`, the gates, the published copy) is
read here: checked by its content (not its name) for an accepted kind and size, refused with a
message naming the file when it is not, then decoded whole with its EXIF orientation applied.
"""

import warnings
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, ImageOps, IptcImagePlugin, UnidentifiedImageError

from pixels.config import setting as _setting

pillow_heif.register_heif_opener()

# Pillow warns (and at twice its own limit, refuses) on huge images; our own limit,
# MEDIA_MAX_PIXELS, is lower and refuses them with a message instead.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

# Limits, overridden by the Django settings of the same names.
MEDIA_MAX_BYTES = 200 * 1024 * 1024
MEDIA_MAX_PIXELS = 50_000_000


def setting(name):
    return _setting(name, __name__)


ACCEPTED = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}
EXTENSIONS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "PNG": {".png"},
    "WEBP": {".webp"},
    "HEIF": {".heic", ".heif", ".hif"},
}
ACCEPTED_IN_WORDS = "JPEG, PNG, WebP or HEIC"


class ImageRejected(ValueError):
    """The file cannot be checked. The message names the file and says what is wrong.

    not_an_image: Pillow did not recognise the content as a picture at all (it may be a video)."""

    def __init__(self, message, *, not_an_image=False):
        super().__init__(message)
        self.not_an_image = not_an_image


def _name(path, name=None) -> str:
    return f"'{name or Path(path).name}'"


def _open_checked(path, name=None) -> Image.Image:
    """Open (not decode) an image after checking it is a file of an accepted kind and size."""
    path = Path(path)
    who = _name(path, name)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageRejected(f"{who} does not exist.") from None
    except OSError as error:
        raise ImageRejected(f"{who} cannot be read ({error.strerror or error}).") from None
    if path.is_dir():
        raise ImageRejected(f"{who} is a folder, not a photo.")
    if size == 0:
        raise ImageRejected(f"{who} is empty (0 bytes): it is not a photo.")
    if size > setting("MEDIA_MAX_BYTES"):
        raise ImageRejected(f"{who} is {size:,} bytes, more than the {setting('MEDIA_MAX_BYTES'):,} allowed.")
    limit = setting("MEDIA_MAX_PIXELS")
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise ImageRejected(
            f"{who} declares far more pixels than the {limit / 1e6:g} megapixels allowed ({error.args[0].split(',')[0]}); "
            "a file that small with that many pixels is a decompression bomb. It was not opened."
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            f"{who} is not a photo that can be read: its content is not a {ACCEPTED_IN_WORDS} image "
            "(it may be damaged, or another kind of file with a photo's name).",
            not_an_image=True,
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected(f"{who} is damaged and cannot be read ({error}).") from None
    try:
        fmt = image.format
        width, height = image.size
        if width * height > limit:
            raise ImageRejected(
                f"{who} is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels), more than the "
                f"{limit / 1e6:g} megapixels allowed (it may be a decompression bomb). It was not opened."
            )
        if fmt != "HEIF" and (getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1):
            # (A HEIC photo's other images, such as a burst, are never published: only its primary one.)
            kind = f"an animated {ACCEPTED.get(fmt, fmt)}"
            raise ImageRejected(
                f"{who} is {kind} ({getattr(image, 'n_frames', '?')} frames): only still photos can be checked. "
                "Use a still photo, or upload it as a video."
            )
        if fmt not in ACCEPTED:
            raise ImageRejected(f"{who} is a {fmt} image: only {ACCEPTED_IN_WORDS} photos are accepted.")
        suffix = path.suffix.lower() if name is None else Path(name).suffix.lower()
        if suffix and suffix not in EXTENSIONS[fmt]:
            raise ImageRejected(
                f"{who} is named as a {suffix[1:].upper()} file but its content is a {ACCEPTED[fmt]} image. "
                "Give it the right extension, or check where it came from."
            )
    except BaseException:
        image.close()
        raise
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, as the published copy will show it: transparency flattened onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        scaled = np.asarray(image, dtype=np.uint32)
        image = Image.fromarray((scaled >> 8 if scaled.max() > 255 else scaled).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def load_image(path, name=None) -> Image.Image:
    """The photo as people will see it: checked by content, fully decoded, EXIF orientation
    applied, transparency flattened onto white, in RGB. ImageRejected says what is wrong."""
    return read_photo(path, name)[1]


def read_photo(path, name=None) -> tuple[str, Image.Image]:
    """(Pillow's format name, the photo as load_image gives it). name is the file's name as
    its owner knows it, when the file on disk is stored under another."""
    who = _name(path, name)
    image = _open_checked(path, name)
    fmt = image.format
    # Some libraries (face_recognition) set this to True when imported, which would let a truncated or
    # damaged photo through with grey where the picture is missing: refuse such photos.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with image:
            image.load()
            oriented = ImageOps.exif_transpose(image)
            return fmt, _to_rgb(oriented)
    except ImageRejected:
        raise
    except Image.DecompressionBombError:
        raise ImageRejected(f"{who} is too large to be opened safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        detail = str(error) or type(error).__name__
        if "truncated" in detail:
            raise ImageRejected(f"{who} is truncated: the file ends before the picture does ({detail}).") from None
        raise ImageRejected(f"{who} is damaged and cannot be decoded ({detail}).") from None
    except MemoryError:
        raise ImageRejected(f"{who} is too large to be opened.") from None


# --- Metadata ------------------------------------------------------------------------------

# EXIF tags that identify the camera or phone: make, model, serial numbers, owner, maker note.
DEVICE_TAGS = {0x010F, 0x0110}  # IFD0: Make, Model
DEVICE_EXIF_TAGS = {0x927C, 0xA430, 0xA431, 0xA433, 0xA434, 0xA435}  # MakerNote, owner, body/lens make, model, serials
GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def metadata_names(path) -> list[str]:
    """What metadata the file carries, by name: "EXIF", "GPS", "XMP", "IPTC", "device"."""
    found = []
    image = _open_checked(path)
    with image:
        exif = None
        try:
            exif = image.getexif()
        except Exception:  # a damaged EXIF block is still an EXIF block
            found.append("EXIF")
        has_exif_bytes = bool(image.info.get("exif"))
        if exif is not None and (len(exif) or has_exif_bytes):
            found.append("EXIF")
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
        if isinstance(xmp, str):
            xmp = xmp.encode("utf-8", "replace")
        gps = False
        device = False
        if exif is not None:
            try:
                # GPSVersionID (tag 0) on its own says nothing about where the photo was taken.
                gps = any(tag != 0 for tag in exif.get_ifd(GPS_IFD))
            except Exception:
                gps = GPS_IFD in exif
            try:
                exif_ifd = exif.get_ifd(EXIF_IFD)
            except Exception:
                exif_ifd = {}
            device = any(exif.get(tag) for tag in DEVICE_TAGS) or any(exif_ifd.get(tag) for tag in DEVICE_EXIF_TAGS)
        if b"GPSLatitude" in xmp or b"GPSLongitude" in xmp:
            gps = True
        if any(marker in xmp for marker in (b"tiff:Make", b"tiff:Model", b"SerialNumber", b"exif:Make")):
            device = True
        if gps:
            found.append("GPS")
        if xmp:
            found.append("XMP")
        try:
            iptc = IptcImagePlugin.getiptcinfo(image)
        except Exception:
            iptc = None
        if iptc:
            found.append("IPTC")
        if device:
            found.append("device")
    return found



def other_carried(path) -> list[str]:
    """What else a photo's file carries besides its picture and metadata_names: "comments or
    text" (a JPEG comment, a PNG's text chunks) and "a colour profile" (which may name its maker)."""
    found = []
    with _open_checked(path) as image:
        info = image.info
        texts = [k for k, v in info.items() if isinstance(v, (str, bytes)) and k not in ("xmp", "XML:com.adobe.xmp", "exif", "icc_profile")]
        if info.get("comment") or any(isinstance(info[k], str) for k in texts):
            found.append("comments or text")
        if info.get("icc_profile"):
            found.append("a colour profile")
    return found
