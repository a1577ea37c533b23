"""Faces in videos: every face track of a video, identified against the register.

A video is decoded with PyAV, every frame in order (the display matrix applied, so a phone video
filmed on its side is upright), and VIDEO_SAMPLES_PER_SECOND frames a second are searched for
faces. Faces found in successive samples are joined into tracks, and each track, not each
frame, is identified: the largest views of the face are encoded and matched as in photos.

Why four samples a second: a face on screen for half a second is then in at least two samples,
and a track survives one sample in which the face is turned away (VIDEO_TRACK_GAP). Measured on
the labelled clip by `python manage.py bench`.
"""

import math
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import av
from django.conf import settings
from PIL import Image

from consent import faces

VIDEO_SAMPLES_PER_SECOND = 4
# Frames are searched at a height of at least this many pixels (small videos are enlarged), so
# that faces down to 40 px in a 360p video and 80 px in 720p and 1080p are found.
VIDEO_DETECT_MIN_HEIGHT = 720
# Samples a track may miss (a face turned away, a hand in front) before it ends.
VIDEO_TRACK_GAP = 2
# Views of each track encoded and matched: its largest ones.
VIDEO_VIEWS_PER_TRACK = 3
# HOG candidates down to this score extend a track; a new track needs dlib's own threshold (0),
# or the CNN's confirmation, as in photos.
VIDEO_TRACK_THRESHOLD = -0.5
# Limits, refused with a message when exceeded.
VIDEO_MAX_SECONDS = 15 * 60
VIDEO_MAX_PIXELS = 1920 * 1080 * 2  # 4K is refused: resize it first


def setting(name):
    return getattr(settings, name, globals()[name])


class VideoRejected(ValueError):
    """The video cannot be checked. The message names the file and says what is wrong."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as shown, rotation applied
    height: int
    seconds: float
    fps: float
    rotation: int
    frames: int | None


# Containers accepted (FFmpeg's names): MP4 and MOV, and WebM. FFmpeg also opens text files as
# "videos" (its tty format): content is judged by the container it really is.
VIDEO_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4", "matroska,webm": "WebM"}


def looks_like_video(path) -> bool:
    """Whether the file is in an accepted video container (not whether it plays)."""
    try:
        with av.open(str(path)) as container:
            return container.format.name in VIDEO_FORMATS
    except Exception:
        return False


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds % 60 else f"{seconds // 60} min"


def _who(path, name=None) -> str:
    return f"'{name or Path(path).name}'"


def inspect(path, name=None) -> VideoInfo:
    """Check a video can be analysed: a video stream, frames that decode, within the limits."""
    who = _who(path, name)
    path = Path(path)
    if not path.exists():
        raise VideoRejected(f"{who} does not exist.")
    if path.stat().st_size == 0:
        raise VideoRejected(f"{who} is empty (0 bytes): it is not a video.")
    try:
        container = av.open(str(path))
    except Exception as error:
        raise VideoRejected(f"{who} is not a video that can be read ({error}).") from None
    with container:
        if container.format.name not in VIDEO_FORMATS:
            raise VideoRejected(f"{who} is not an MP4, MOV or WebM video (its content is {container.format.long_name}).")
        if not container.streams.video:
            raise VideoRejected(f"{who} has no video in it (only {', '.join(s.type for s in container.streams) or 'nothing'}).")
        stream = container.streams.video[0]
        if stream.codec_context.name in ("png", "mjpeg", "bmp", "gif", "webp") and (stream.frames or 0) <= 1:
            raise VideoRejected(f"{who} is a still image ({stream.codec_context.name}), not a video: upload it as a photo.")
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except Exception as error:
            raise VideoRejected(f"{who} is damaged: its first frame cannot be decoded ({error}).") from None
        if first is None:
            raise VideoRejected(f"{who} has no frames that can be decoded.")
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        seconds = float(container.duration / av.time_base) if container.duration else (
            float(stream.duration * stream.time_base) if stream.duration else 0.0)
        fps = float(stream.average_rate or stream.guessed_rate or 25)
    if width * height > setting("VIDEO_MAX_PIXELS"):
        raise VideoRejected(f"{who} is {width}×{height}: more than the {setting('VIDEO_MAX_PIXELS') / 1e6:.1f} megapixels a frame allowed. Export it at 1080p.")
    if seconds > setting("VIDEO_MAX_SECONDS"):
        raise VideoRejected(f"{who} lasts {_duration(seconds)}: more than the {_duration(setting('VIDEO_MAX_SECONDS'))} allowed. Shorten it first.")
    return VideoInfo(width, height, seconds, fps, rotation, stream.frames or None)


def upright(frame) -> Image.Image:
    """The frame as it is meant to be seen: the display matrix's rotation applied."""
    image = frame.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    # The display matrix gives the angle counter-clockwise; PIL rotates counter-clockwise too.
    if rotation:
        image = image.rotate(rotation, expand=True)
    return image


@dataclass
class View:
    """One sighting of a face: when, where (in the upright frame), and how sure HOG was."""

    time: float
    face: faces.Found
    crop: Image.Image | None = None  # the face's neighbourhood, kept for encoding
    crop_box: tuple[int, int, int, int] | None = None  # the face inside crop (top, right, bottom, left)


@dataclass
class Track:
    views: list[View] = field(default_factory=list)
    confirmed: bool = False  # seen once with a score a new face needs
    # For a track begun by a doubtful face: the CNN's answer, worked out beside the scanning.
    pending: Future | None = None
    misses: int = 0
    match: faces.Match | None = None
    view: View | None = None  # the view that was matched best, its neighbourhood kept

    @property
    def start(self) -> float:
        return self.views[0].time

    @property
    def end(self) -> float:
        return self.views[-1].time

    @property
    def best(self) -> View:
        return max(self.views, key=lambda v: (v.face.width, v.face.score))

    def box_at(self, time: float) -> tuple[int, int, int, int]:
        """The face's box at any time of the track, between sightings by straight-line motion."""
        before = [v for v in self.views if v.time <= time] or self.views[:1]
        after = [v for v in self.views if v.time >= time] or self.views[-1:]
        a, b = before[-1], after[0]
        if b.time == a.time:
            return a.face.box
        k = (time - a.time) / (b.time - a.time)
        return tuple(round(x + (y - x) * k) for x, y in zip(a.face.box, b.face.box))


def _near(track: Track, face: faces.Found) -> float:
    """How well a face continues a track: 0 (not at all) to 1."""
    last = track.views[-1].face
    size = max(last.width, 1)
    centre = math.dist(((last.left + last.right) / 2, (last.top + last.bottom) / 2),
                       ((face.left + face.right) / 2, (face.top + face.bottom) / 2))
    ratio = face.width / size
    if centre > 1.2 * size or not 0.5 <= ratio <= 2.0:
        return 0.0
    return 1.0 - centre / (1.2 * size)


def _crop(image: Image.Image, face: faces.Found):
    margin = max(face.width, face.bottom - face.top)
    box = (max(0, face.left - margin), max(0, face.top - margin), min(image.width, face.right + margin), min(image.height, face.bottom + margin))
    crop = image.crop(box)
    return crop, (face.top - box[1], face.right - box[0], face.bottom - box[1], face.left - box[0])


class Tracker:
    def __init__(self):
        self.active: list[Track] = []
        self.ended: list[Track] = []

    def add(self, time: float, image: Image.Image, found: list[faces.Found], confirm) -> None:
        """The faces found in one sample. confirm(face) returns a Future that says whether a
        doubtful new face is one: its track counts only if it does, or if the face is later
        seen with a score a new face needs."""
        unmatched = sorted(found, key=lambda f: -f.score)
        for track in sorted(self.active, key=lambda t: -t.views[-1].face.width):
            scored = [(_near(track, f), f) for f in unmatched]
            scored = [(s, f) for s, f in scored if s > 0]
            if scored:
                _, face = max(scored, key=lambda x: x[0])
                unmatched.remove(face)
                track.views.append(View(time, face))
                track.confirmed = track.confirmed or face.score >= 0
                track.misses = 0
            else:
                track.misses += 1
        for face in unmatched:
            if face.score >= 0:
                self.active.append(Track(views=[View(time, face)], confirmed=True))
            else:
                self.active.append(Track(views=[View(time, face)], pending=confirm(face)))
        still = []
        for track in self.active:
            (self.ended if track.misses > setting("VIDEO_TRACK_GAP") else still).append(track)
        self.active = still
        # Keep the neighbourhoods of each track's largest views only, for encoding later.
        for track in self.active:
            view = track.views[-1]
            if view.time == time and view.crop is None:
                view.crop, view.crop_box = _crop(image, view.face)
            kept = sorted(track.views, key=lambda v: -v.face.width)[: setting("VIDEO_VIEWS_PER_TRACK")]
            for v in track.views:
                if v not in kept and v.crop is not None:
                    v.crop = None

    def finish(self) -> list[Track]:
        tracks = self.ended + self.active
        self.ended, self.active = [], []
        for track in tracks:
            if not track.confirmed and track.pending is not None:
                track.confirmed = bool(track.pending.result())
        return sorted([t for t in tracks if t.confirmed], key=lambda t: (t.start, t.views[0].face.left))


@dataclass
class VideoReport:
    info: VideoInfo
    tracks: list[Track]
    samples: int
    every: int  # frames between samples


def _params() -> faces.DetectionSettings:
    base = faces.DetectionSettings.current()
    return faces.DetectionSettings(
        scale=1.0, tile=100_000, overlap=base.overlap, threshold=float(setting("VIDEO_TRACK_THRESHOLD")),
        accept=0.0, verify_px=base.verify_px, gray=base.gray,
    )


def analyse(path, channel_kind: str, register: faces.Register | None = None, name=None, progress=lambda f: None,
            on_sample=None) -> VideoReport:
    """Every face track of a video, each matched against the register. VideoRejected says what
    is wrong with a video that cannot be analysed. on_sample(time, image) sees each sampled
    frame, upright and at its own size (for reading its words)."""
    info = inspect(path, name)
    every = max(1, round(info.fps / float(setting("VIDEO_SAMPLES_PER_SECOND"))))
    scale = max(1.0, setting("VIDEO_DETECT_MIN_HEIGHT") / max(info.height, 1))
    params = _params()
    pool = faces.detection_pool()
    tracker = Tracker()
    pending: deque[tuple[float, Image.Image, Future]] = deque()
    samples = 0

    def detect(image):
        return faces.detect_candidates(image, params, pool=None)

    def settle(block: bool):
        while pending and (block or pending[0][2].done()):
            time, image, future = pending.popleft()
            found = [_unscale(f, scale) for f in future.result()]
            original = image if scale == 1.0 else image.resize((info.width, info.height), Image.Resampling.BILINEAR)
            checking = faces.DetectionSettings.current()
            tracker.add(time, original, found, lambda face: pool.submit(faces._confirmed, original, face, checking))

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            index = -1
            start = None
            for frame in container.decode(stream):
                index += 1
                if index % every:
                    continue
                time = float(frame.time) if frame.time is not None else index / info.fps
                start = time if start is None else start
                image = upright(frame).convert("RGB")
                if on_sample is not None:
                    on_sample(time - start, image)
                if scale != 1.0:
                    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
                pending.append((time - start, image, pool.submit(detect, image)))
                samples += 1
                settle(block=len(pending) >= 4)
                if info.seconds:
                    progress(min(0.9, 0.9 * (time - start) / info.seconds))
            settle(block=True)
    except av.error.FFmpegError as error:
        raise VideoRejected(f"{_who(path, name)} is damaged or cut short ({error}); {samples} samples could be read.") from None
    if samples == 0:
        raise VideoRejected(f"{_who(path, name)} has no frames that can be decoded.")
    tracks = tracker.finish()
    register = register if register is not None else faces.Register.load(channel_kind)
    # Tracks are identified side by side: each encoding runs in a face worker process.
    for track, (match, view) in zip(tracks, pool.map(lambda t: _identify(t, register), tracks)):
        track.match, track.view = match, view
        for other in track.views:
            if other is not view:
                other.crop = None
    progress(1.0)
    return VideoReport(info, tracks, samples, every)


def _unscale(face: faces.Found, scale: float) -> faces.Found:
    if scale == 1.0:
        return face
    return faces.Found(round(face.top / scale), round(face.right / scale), round(face.bottom / scale), round(face.left / scale), face.score)


def _identify(track: Track, register: faces.Register) -> tuple[faces.Match, View]:
    """Match the track's largest views; views that disagree about who it is make it uncertain."""
    views = [v for v in track.views if v.crop is not None]
    results = [(identify_view(v.crop, v.crop_box, v.face.width, register), v) for v in views]
    if not results:
        return faces.Match(faces.UNKNOWN, None, None, track.best.face.box), track.best
    best, view = min(results, key=lambda r: r[0].distance if r[0].distance is not None else 9)
    others = {m.pupil.pk for m, _ in results if m.pupil is not None and m.distance is not None and m.distance <= faces.setting("FACE_MATCH_POSSIBLE")}
    if best.status == faces.CONSENTED and len(others) > 1:
        best = faces.Match(faces.UNCERTAIN, best.pupil, best.distance, best.box)
    return faces.Match(best.status, best.pupil, best.distance, view.face.box), view


def identify_view(crop: Image.Image, crop_box, width: int, register: faces.Register) -> faces.Match:
    """Match one kept view of a face (its neighbourhood, and the face's box inside it)."""
    encoding = faces.encode(crop, tuple(crop_box))
    return faces.match_encodings([encoding], [width], register, [tuple(crop_box)])[0]


def report_faces(report: VideoReport) -> list[dict]:
    """check_media's face entries for a video: the same shape as a photo's, with start and end."""
    out = []
    for track in report.tracks:
        m = track.match
        out.append({
            "box": [int(v) for v in track.best.face.box],
            "status": m.status,
            "upn": m.pupil.upn if m.pupil is not None and m.status != faces.UNKNOWN else None,
            "distance": round(float(m.distance), 4) if m.distance is not None else None,
            "start": round(track.start, 2),
            "end": round(track.end, 2),
        })
    return out


# QuickTime and MP4 tags that say where a video was filmed, or on what.
LOCATION_TAGS = {"location", "location-eng", "com.apple.quicktime.location.iso6709", "©xyz", "xyz"}
DEVICE_TAGS = {"make", "model", "com.apple.quicktime.make", "com.apple.quicktime.model", "com.android.manufacturer", "com.android.model"}
SOFTWARE_TAGS = {"software", "com.apple.quicktime.software", "com.android.version"}


def metadata_names(path) -> list[str]:
    """What a video's container says about where and on what it was filmed: "GPS", "device", "software"."""
    found = set()
    with av.open(str(path)) as container:
        tags = [container.metadata] + [s.metadata for s in container.streams]
        for key in (k.lower() for t in tags for k in t):
            if key in LOCATION_TAGS or "location" in key:
                found.add("GPS")
            elif key in DEVICE_TAGS:
                found.add("device")
            elif key in SOFTWARE_TAGS:
                found.add("software")
    return sorted(found, key=["GPS", "device", "software"].index)

