"""The published copy of a video: the faces chosen for blurring pixelated in every frame of their
track, the sound kept, and no metadata (no location, no device, no creation software).

With nothing to blur, an H.264 or H.265 picture is copied into a new container as it is (a
remux: fast, and no loss of quality); with faces to blur, or in any other coding, the picture is
decoded, pixelated and encoded again with H.264. The sound is copied. Either way the new
container is written without the original's metadata or the writer's own tags, and the picture
stream without SEI units (where cameras write dates, serial numbers or GPS, and x264 its
options). `no-location-metadata` reads the bytes that result (`pixels.hidden_data`).
"""

from pathlib import Path

import av
from av.bitstream import BitStreamFilterContext
from PIL import Image

from pixels import imaging, video

# A face is blurred from one sample interval before it was first seen to one after it was last
# seen: it may be on screen a little before and after the samples that found it.
BLUR_MARGIN_SECONDS = 0.25
VIDEO_CRF = 20  # H.264 quality of a re-encoded video (lower is better; 18-23 is near the original)
# x264's speed: "superfast" encodes 1080p faster than it plays on 2 cores, at a larger file than
# "veryfast" for the same quality (measured by `manage.py bench`).
VIDEO_PRESET = "superfast"


# FFmpeg's MP4 writer adds its name and version ('udta' > '©too') unless asked for bit-exact output.
CLEAN_CONTAINER = {"fflags": "+bitexact"}
# SEI units: H.264's type 6, H.265's 39 and 40 (FFmpeg's `filter_units` bitstream filter).
SEI_UNITS = {"h264": "6", "hevc": "39|40"}


class VideoCopyFailed(RuntimeError):
    pass


def _without_sei(stream, coding: str | None = None, out_stream=None) -> BitStreamFilterContext:
    """A filter that drops the SEI units of a picture stream's packets and keeps everything else.
    It writes start codes (Annex B); given out_stream, that stream's decoder configuration is
    set to match, and the MP4 writer turns both back into MP4's own form."""
    coding = coding or stream.codec_context.name
    return BitStreamFilterContext(f"filter_units=remove_types={SEI_UNITS[coding]}", stream, out_stream)




def box_at(sightings, time: float, margin: float = BLUR_MARGIN_SECONDS):
    """The box of a track at a time: between sightings by straight-line motion, before the first
    and after the last (within the margin) the nearest sighting's box. None outside the track."""
    if not sightings or time < sightings[0][0] - margin or time > sightings[-1][0] + margin:
        return None
    before = [s for s in sightings if s[0] <= time] or sightings[:1]
    after = [s for s in sightings if s[0] >= time] or sightings[-1:]
    a, b = before[-1], after[0]
    if b[0] == a[0]:
        return tuple(a[1:])
    k = (time - a[0]) / (b[0] - a[0])
    return tuple(round(x + (y - x) * k) for x, y in zip(a[1:], b[1:]))


def remux(source: Path, destination: Path) -> Path:
    """Copy the picture and the sound into a new MP4 without any metadata or SEI units. A picture
    in another coding than H.264 or H.265 is encoded again instead (its units are not known here)."""
    with av.open(str(source)) as probe:
        codecs = {s.codec_context.name for s in probe.streams.video}
    if not codecs or codecs - set(SEI_UNITS):
        return blurred(source, [], destination)
    try:
        with av.open(str(source)) as inp, av.open(str(destination), "w", format="mp4", options=CLEAN_CONTAINER) as out:
            mapping, filters = {}, {}
            for stream in inp.streams:
                if stream.type in ("video", "audio"):
                    mapping[stream.index] = out.add_stream_from_template(stream)
                    mapping[stream.index].metadata.clear()
                if stream.type == "video":
                    filters[stream.index] = _without_sei(stream, out_stream=mapping[stream.index])
            out.metadata.clear()
            for packet in inp.demux(*[s for s in inp.streams if s.index in mapping]):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                index = packet.stream.index
                for clean in (filters[index].filter(packet) if index in filters else [packet]):
                    clean.stream = mapping[index]
                    out.mux(clean)
            for index, bsf in filters.items():
                for clean in bsf.filter(None):
                    clean.stream = mapping[index]
                    out.mux(clean)
    except av.error.FFmpegError as error:
        destination.unlink(missing_ok=True)
        raise VideoCopyFailed(f"the video could not be copied ({error})") from error
    return destination


def blurred(source: Path, tracks, destination: Path, progress=lambda fraction: None) -> Path:
    """Re-encode the picture with each track's face pixelated (tracks: their sightings,
    [[time, top, right, bottom, left], ...], times from the first frame); copy the sound."""
    try:
        with av.open(str(source)) as inp, av.open(str(destination), "w", format="mp4", options=CLEAN_CONTAINER) as out:
            vin = inp.streams.video[0]
            vin.thread_type = "AUTO"
            ain = inp.streams.audio[0] if inp.streams.audio else None
            rate = vin.average_rate or vin.guessed_rate or 25
            info = video.inspect(source)
            vout = out.add_stream("libx264", rate=rate)
            vout.pix_fmt = "yuv420p"
            # As shown (rotation applied), and even, as H.264 in 4:2:0 needs.
            vout.width, vout.height = info.width - info.width % 2, info.height - info.height % 2
            vout.options = {"crf": str(VIDEO_CRF), "preset": VIDEO_PRESET}
            sei = []  # x264 writes its version and options into an SEI unit: dropped on the way out

            def mux(packets):
                for packet in packets:
                    if not sei:
                        sei.append(_without_sei(vout, "h264"))
                    for clean in sei[0].filter(packet):
                        clean.stream = vout
                        out.mux(clean)
            aout = out.add_stream_from_template(ain) if ain is not None else None
            if aout is not None:
                aout.metadata.clear()
            out.metadata.clear()
            duration = float(inp.duration / av.time_base) if inp.duration else 0.0
            first_time = None
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream is ain:
                    if packet.dts is None:
                        continue
                    packet.stream = aout
                    out.mux(packet)
                    continue
                for frame in packet.decode():
                    time = float(frame.time) if frame.time is not None else 0.0
                    first_time = time if first_time is None else first_time
                    boxes = [b for b in (box_at(sightings, time - first_time) for sightings in tracks) if b is not None]
                    as_is = not int(frame.rotation or 0) % 360 and (frame.width, frame.height) == (vout.width, vout.height)
                    if as_is and not boxes:
                        new = frame.reformat(format="yuv420p")  # nothing to change in this frame
                    elif as_is:
                        # Pixelated in the frame's own YUV planes: no conversion to RGB and back.
                        planes = frame.reformat(format="yuv420p").to_ndarray()
                        height, width = vout.height, vout.width
                        luma = planes[:height]
                        u = planes[height:height + height // 4].reshape(height // 2, width // 2)
                        v = planes[height + height // 4:].reshape(height // 2, width // 2)
                        for box in boxes:
                            imaging.pixelate_planes((luma, u, v), box, (width, height))
                        new = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                    else:
                        image = video.upright(frame).convert("RGB")
                        for box in boxes:
                            imaging.pixelate(image, box)
                        if image.size != (vout.width, vout.height):
                            image = image.crop((0, 0, vout.width, vout.height))
                        new = av.VideoFrame.from_image(image)
                    new.pts, new.time_base = frame.pts, frame.time_base
                    mux(vout.encode(new))
                    if duration:
                        progress(min(0.99, (time - first_time) / duration))
            mux(vout.encode())
            if sei:
                for clean in sei[0].filter(None):
                    clean.stream = vout
                    out.mux(clean)
    except av.error.FFmpegError as error:
        destination.unlink(missing_ok=True)
        raise VideoCopyFailed(f"the blurred copy could not be made ({error})") from error
    return destination


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The frame shown at this many seconds from the first frame (the last one if the video is
    shorter), upright. It seeks to the keyframe before, so a late frame costs no more than an early one."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = None
        for frame in container.decode(stream):  # the first frame's own time, which others count from
            first = frame.pts
            break
        if first is None:
            raise VideoCopyFailed("the video has no frames")
        target = first + int(seconds / stream.time_base)
        container.seek(max(first, target), stream=stream, backward=True)
        chosen = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            if chosen is not None and frame.pts > target:
                break
            chosen = frame
        if chosen is None:
            raise VideoCopyFailed("the video has no frames")
        return video.upright(chosen).convert("RGB")


def every_frame_time(path: Path, every: float, start: float = 0.0, end: float | None = None) -> list[float]:
    """The times, from the first frame, of one frame each `every` seconds (for a filmstrip)."""
    length = video.inspect(path).seconds
    end = length if end is None else min(end, length)
    times, at = [], start
    while at < end - 1e-6:
        times.append(round(at, 3))
        at += every
    return times


def thumbnail_time(item) -> float:
    """When the thumbnail frame of a video (a MediaItem) is: chosen, or a third of the way in."""
    if item.thumbnail_time is not None:
        return float(item.thumbnail_time)
    return video.inspect(item.source_path).seconds / 3


def blur_list(item, every: float):
    """What is blurred in a video (a MediaItem): the chosen tracks, and the chosen words from one
    reading to the next, as sightings."""
    to_blur = [[list(s) for s in t.sightings] for t in item.tracks if t.blur]
    to_blur += [[[w.time - every, *w.box], [w.time + every, *w.box]] for w in item.words if w.blur and w.time is not None]
    return to_blur


def thumbnail(item, every: float) -> Image.Image:
    """The thumbnail as it will be published: from the published copy once it is made, before
    that from the upload with the chosen blurs applied."""
    when = thumbnail_time(item)
    if item.thumbnail_path is not None:
        with Image.open(item.thumbnail_path) as published:
            return published.convert("RGB")
    image = frame_at(item.source_path, when)
    for sightings in blur_list(item, every):
        box = box_at(sightings, when)
        if box is not None:
            imaging.pixelate(image, box)
    return image
