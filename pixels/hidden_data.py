"""What a published file carries besides its picture and sound, read from its bytes.

The product writes every published photo as a JPEG made from pixels alone, and every published
video as an MP4 of its picture and sound alone. This module reads those bytes as a stranger
would and lists anything else: each JPEG segment and each MP4 box must be one the product itself
writes, every byte of the MP4's media data must belong to a frame or a sound packet, and the
picture stream may hold nothing but pictures and their parameters (no SEI, where cameras and
encoders write text: dates, serial numbers, GPS, x264's options).

Written here rather than taken from a library on purpose: picture libraries (Pillow, FFmpeg)
read a file to show it and skip what they do not need, which is exactly what must be found.
This is an allowlist; anything it does not know is reported.
"""

import mmap
import struct
from pathlib import Path

import av

# --- JPEG ------------------------------------------------------------------------------------

# Segments that describe the picture itself: start of frame (every coding), Huffman and
# arithmetic tables, quantisation tables, restart interval.
_PICTURE_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF,
                    0xC4, 0xCC, 0xDB, 0xDD}
_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE


def _jfif_header_only(segment: bytes) -> bool:
    """APP0 as Pillow writes it: 'JFIF', version, density, and no thumbnail (14 bytes)."""
    return len(segment) == 14 and segment.startswith(b"JFIF\x00") and segment[12:14] == b"\x00\x00"


def _app_name(marker: int, segment: bytes) -> str:
    n = marker - 0xE0
    if n == 1 and segment.startswith(b"Exif"):
        return "EXIF (APP1)"
    if n == 1 and b"adobe" in segment[:40].lower():
        return "XMP (APP1)"
    if n == 2 and segment.startswith(b"ICC_PROFILE"):
        return "an ICC colour profile (APP2)"
    if n == 13:
        return "IPTC or Photoshop data (APP13)"
    if n == 0:
        return "an APP0 segment other than a plain JFIF header"
    return f"an APP{n} segment"


def jpeg_findings(data: bytes) -> list[str]:
    """Everything in a JPEG that is not its picture: [] for a clean one."""
    if not data.startswith(b"\xff\xd8"):
        return ["it is not a JPEG"]
    found, pos, end = [], 2, len(data)
    while True:
        if pos >= end:
            found.append("it ends before its end-of-picture marker")
            break
        if data[pos] != 0xFF:
            found.append(f"{end - pos} bytes outside any segment")
            break
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            found.append("it ends before its end-of-picture marker")
            break
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            if pos < end:
                found.append(f"{end - pos} bytes after the end of the picture")
            break
        if 0xD0 <= marker <= 0xD7:  # a restart marker has no length
            continue
        if pos + 2 > end:
            found.append("a segment cut short")
            break
        length = struct.unpack(">H", data[pos:pos + 2])[0]
        segment = data[pos + 2:pos + length]
        pos += length
        if marker == _SOS:
            # The picture's coded data runs to the next marker that is not a stuffed byte or a restart.
            while pos < end - 1 and not (data[pos] == 0xFF and data[pos + 1] not in (0x00, *range(0xD0, 0xD8))):
                pos += 1
            continue
        if marker in _PICTURE_MARKERS:
            continue
        if marker == _COM:
            found.append("a comment (COM)")
        elif 0xE0 <= marker <= 0xEF:
            if not (marker == 0xE0 and _jfif_header_only(segment)):
                found.append(_app_name(marker, segment))
        else:
            found.append(f"an unknown segment (marker {marker:#04x})")
    return found


# --- MP4 -------------------------------------------------------------------------------------

# What each box of an MP4 the product writes may hold. Boxes listed as children are walked;
# those mapped to None are leaves whose contents are fixed structure (tables of sizes and times).
_CHILDREN = {
    None: {"ftyp", "moov", "mdat", "free"},
    "moov": {"mvhd", "trak", "iods", "udta"},
    "trak": {"tkhd", "edts", "mdia"},
    "edts": {"elst"},
    "mdia": {"mdhd", "hdlr", "minf"},
    "minf": {"vmhd", "smhd", "dinf", "stbl"},
    "dinf": {"dref"},
    "stbl": {"stsd", "stts", "stss", "ctts", "stsc", "stsz", "stz2", "stco", "co64", "sgpd", "sbgp", "sdtp", "cslg"},
}
# The handlers (track kinds) and handler names FFmpeg's MP4 writer gives a picture or sound track.
_HANDLERS = {b"vide": b"VideoHandler", b"soun": b"SoundHandler"}
_SAMPLE_ENTRIES = {"avc1": "visual", "hvc1": "visual", "hev1": "visual", "mp4a": "audio"}
_ENTRY_CHILDREN = {"avcC", "hvcC", "btrt", "pasp", "colr", "fiel", "clli", "mdcv", "esds"}
_NAMED = {
    "udta": "user data (udta: titles, locations, the writing software)",
    "meta": "a metadata box (meta: keys and values)",
    "uuid": "a private box (uuid)",
    "tref": "a track reference (tref: chapters or a linked track)",
    "chpl": "chapter titles (chpl)",
}


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of each box between start and end; raises ValueError when cut."""
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise ValueError("a box cut short")
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ValueError("a box cut short")
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("a box whose size runs past its container")
        yield kind.decode("latin-1"), pos + header, pos + size
        pos += size


def _describe(kind: str) -> str:
    if kind.startswith("\xa9"):
        return f"a text tag ({kind!r})"
    return _NAMED.get(kind, f"an unexpected '{kind}' box")


def _walk(data: bytes, start: int, end: int, parent, found: list, media: list) -> None:
    for kind, body, stop in _boxes(data, start, end):
        if kind not in _CHILDREN.get(parent, set()):
            found.append(_describe(kind))
            continue
        if kind == "mdat":
            media.append(stop - body)
        elif kind == "free" and stop > body:
            found.append(f"{stop - body} bytes in a 'free' box")
        elif kind == "udta":
            _check_user_data(data, body, stop, found)
        elif kind == "hdlr":
            _check_handler(data[body:stop], found)
        elif kind == "dref":
            _check_references(data, body, stop, found)
        elif kind == "stsd":
            _check_sample_entries(data, body, stop, found)
        elif kind in _CHILDREN:
            _walk(data, body, stop, kind, found, media)


def _check_handler(payload: bytes, found: list) -> None:
    handler, name = payload[8:12], payload[24:].rstrip(b"\x00")
    if handler not in _HANDLERS:
        found.append(f"a track that is neither picture nor sound ({handler.decode('latin-1')!r}: subtitles, data or chapters)")
    elif name != _HANDLERS[handler]:
        found.append(f"a track named {name.decode('utf-8', 'replace')!r}")


def _check_user_data(data, body: int, stop: int, found: list) -> None:
    """FFmpeg's MP4 writer always writes an iTunes-style tag list; it must be empty: 'udta'
    holding only 'meta', which holds only its 'mdir' handler and an 'ilst' with no tags."""
    for kind, start, end in _boxes(data, body, stop):
        if kind != "meta":
            found.append(_describe(kind))
            continue
        for child, child_start, child_end in _boxes(data, start + 4, end):  # meta has version and flags first
            if child == "hdlr" and data[child_start + 8:child_start + 12] == b"mdir":
                continue
            if child == "ilst" and child_end == child_start:
                continue
            found.append("tags (udta > meta > ilst: titles, locations, the writing software)" if child == "ilst" else _describe(child))


def _check_references(data: bytes, body: int, stop: int, found: list) -> None:
    # Every data reference must say "in this file" (flag 1) and carry no address.
    for kind, start, end in _boxes(data, body + 8, stop):
        flags = int.from_bytes(data[start + 1:start + 4], "big")
        if kind != "url " or flags != 1 or end > start + 4:
            found.append("a reference to data outside the file (dref)")


def _check_sample_entries(data: bytes, body: int, stop: int, found: list) -> None:
    for kind, start, end in _boxes(data, body + 8, stop):
        family = _SAMPLE_ENTRIES.get(kind)
        if family is None:
            found.append(f"a '{kind}' stream, which the product does not write")
            continue
        if family == "visual":
            name = data[start + 42:start + 74]
            if name.strip(b"\x00"):
                found.append(f"a compressor name ({name[1:1 + name[0]].decode('latin-1')!r})")
            children = start + 78
        else:
            children = start + 28
        for child, _, _ in _boxes(data, children, end):
            if child not in _ENTRY_CHILDREN:
                found.append(_describe(child))


def _nal_types(payload: bytes, length_size: int, hevc: bool):
    pos = 0
    while pos + length_size <= len(payload):
        size = int.from_bytes(payload[pos:pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(payload):
            yield None  # not a well-formed sequence of units
            return
        header = payload[pos]
        yield (header >> 1) & 0x3F if hevc else header & 0x1F
        pos += size
    if pos != len(payload):
        yield None


# H.264: 6 is SEI (text from encoders and cameras). H.265: 39 and 40 are SEI.
_SEI = {False: {6}, True: {39, 40}}
_PARAMETER_SETS = {False: {7, 8, 13}, True: {32, 33, 34}}


def _parameter_set_types(extradata: bytes, hevc: bool):
    """The NAL unit types in an avcC or hvcC record, and its NAL length size."""
    types = []
    if not hevc:
        length_size = (extradata[4] & 3) + 1
        pos = 5
        for group in range(2):
            count = extradata[pos] & (0x1F if group == 0 else 0xFF)
            pos += 1
            for _ in range(count):
                size = struct.unpack(">H", extradata[pos:pos + 2])[0]
                types.append(extradata[pos + 2] & 0x1F)
                pos += 2 + size
        return types, length_size
    length_size = (extradata[21] & 3) + 1
    pos, arrays = 23, extradata[22]
    for _ in range(arrays):
        kind = extradata[pos] & 0x3F
        count = struct.unpack(">H", extradata[pos + 1:pos + 3])[0]
        pos += 3
        for _ in range(count):
            size = struct.unpack(">H", extradata[pos:pos + 2])[0]
            types.append(kind)
            pos += 2 + size
    return types, length_size


def _stream_findings(path: Path) -> tuple[list[str], int]:
    """What the picture stream carries besides pictures, and how many bytes every packet holds."""
    found, total = [], 0
    with av.open(str(path)) as container:
        for stream in container.streams:
            if stream.type not in ("video", "audio"):
                found.append(f"a {stream.type} stream")
        if getattr(container, "chapters", None) and container.chapters():
            found.append("chapters")
        video_streams = [s for s in container.streams.video]
        checks = {}
        for stream in video_streams:
            hevc = stream.codec_context.name == "hevc"
            if stream.codec_context.name not in ("h264", "hevc"):
                found.append(f"a picture stream in {stream.codec_context.name}, which the product does not write")
                continue
            extradata = stream.codec_context.extradata or b""
            try:
                types, length_size = _parameter_set_types(extradata, hevc)
            except (IndexError, struct.error):
                found.append("a damaged decoder configuration")
                continue
            if set(types) - _PARAMETER_SETS[hevc]:
                found.append("other units than parameter sets in the decoder configuration")
            checks[stream.index] = (length_size, hevc)
        sei = other = 0
        for packet in container.demux():
            if packet.size == 0 and packet.dts is None:
                continue
            total += packet.size
            check = checks.get(packet.stream.index)
            if check is None:
                continue
            length_size, hevc = check
            for kind in _nal_types(bytes(packet), length_size, hevc):
                if kind is None:
                    other += 1
                elif kind in _SEI[hevc]:
                    sei += 1
        if sei:
            found.append(f"text units in the picture stream (SEI, {sei})")
        if other:
            found.append(f"malformed units in the picture stream ({other})")
    return found, total


def mp4_findings(path) -> list[str]:
    """Everything in an MP4 that is not its picture and sound: [] for a clean one."""
    path = Path(path)
    found, media = [], []
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            _walk(data, 0, len(data), None, found, media)
        except ValueError as error:
            return found + [str(error)]
    try:
        stream_found, packet_bytes = _stream_findings(path)
    except (av.error.FFmpegError, ValueError) as error:
        return found + [f"it cannot be read as a video ({error})"]
    found += stream_found
    if len(media) != 1:
        found.append(f"{len(media)} media data boxes")
    elif media[0] != packet_bytes:
        found.append(f"{media[0] - packet_bytes} bytes of media data that belong to no frame or sound")
    return list(dict.fromkeys(found))


def findings(path) -> list[str]:
    """Everything in a published file (a JPEG or an MP4) besides its picture and sound."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(12)
    if head.startswith(b"\xff\xd8"):
        return jpeg_findings(path.read_bytes())
    if head[4:8] == b"ftyp":
        return mp4_findings(path)
    return ["it is neither a JPEG nor an MP4, the only formats the product publishes"]
