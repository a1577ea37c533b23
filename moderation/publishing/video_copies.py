"""A video's published copy, made in the background once its faces are decided.

The approver watches this copy and looks through its frames; at publishing it is the very file
that goes out (checked again by every gate), as long as nothing that changes its pixels was
decided since. What changes them: a face track blurred or not, a face marked on a frame, words
blurred. Each decision asks for a new copy (`request`, which enqueues the task `make_copy`); the
worker runs it as it analyses uploads, and a copy left half-made by a stopped worker is made again.
"""

import functools
import hashlib
import json
import logging
import time
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from config.school import files
from config.school.tenancy import in_its_school
from moderation.models import MediaFile
from moderation.upkeep import stopping, tasks
from pixels import imaging, ocr, second_opinion, video, video_copy
from pixels.detection import Found

logger = logging.getLogger(__name__)

COPY_STALE_AFTER = timedelta(minutes=5)


# The words in a video (captions, a whiteboard, name badges) are read from one frame every this
# many seconds: words stay on screen for seconds, and reading a frame takes about a second. Words
# read in a frame are taken to be on screen, where they were read, until the next reading.
VIDEO_READ_EVERY_SECONDS = 2.0


def read_every() -> float:
    return float(getattr(settings, "VIDEO_READ_EVERY_SECONDS", VIDEO_READ_EVERY_SECONDS))


def blur_plan(source_sha256: str, tracks, words) -> dict:
    """Everything that decides a video's published pixels: the upload, and what is blurred where.
    tracks: objects with .blur and .sightings; words: objects with .blur, .time and .box."""
    return {
        "source": source_sha256,
        "tracks": sorted([[round(v, 3) for v in s] for s in t.sightings] for t in tracks if t.blur),
        "words": sorted([round(w.time, 3), *w.box] for w in words if w.blur and w.time is not None),
    }


def plan_hash(plan: dict) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def decisions_hash(media: MediaFile) -> str:
    """The hash of what the published copy of this video shows, as decided now."""
    return plan_hash(blur_plan(media.sha256, media.tracks.all(), media.words.all()))


def blur_list(tracks, words):
    """The sightings to pixelate: the blurred tracks, and blurred words from one reading to the next."""
    item = SimpleNamespace(tracks=list(tracks), words=list(words))
    return video_copy.blur_list(item, read_every())


def is_made(media: MediaFile) -> bool:
    """Whether the published copy of this video as decided now has been made (and is kept)."""
    return (media.kind == MediaFile.Kind.VIDEO and media.copy_state == MediaFile.Copy.DONE and bool(media.copy_name)
            and media.copy_for == decisions_hash(media) and files.exists(files.COPIES, media.copy_name))


def current(media: MediaFile) -> Path | None:
    """The published copy of this video as decided now, on this machine's disk, when it has been
    made; else None."""
    if not is_made(media):
        return None
    try:
        return files.here(files.COPIES, media.copy_name)
    except FileNotFoundError:  # deleted since (a newer copy replaced it)
        return None


def findings(media: MediaFile) -> list[second_opinion.Sighting] | None:
    """What the second detector sees in this video's published copy as decided now; None while
    that copy is being made."""
    if not is_made(media):
        return None
    return [second_opinion.Sighting(f[0], Found(*f[1:5], f[5])) for f in media.copy_findings]


def read_words(path: Path, progress=lambda at: None) -> list[list]:
    """The words shown in a video, read every VIDEO_READ_EVERY_SECONDS as at analysis:
    [[time, text, top, right, bottom, left], ...]."""
    out = []
    for at in video_copy.every_frame_time(path, read_every()):
        out += [[round(at, 3), line.text, *line.box] for line in ocr.read(video_copy.frame_at(path, at))]
        progress(at)
    return out


def words(media: MediaFile) -> list[list] | None:
    """The words read in this video's published copy as decided now; None while it is being made."""
    if not is_made(media):
        return None
    return media.copy_words


def unfollowed(media: MediaFile) -> list[second_opinion.Sighting]:
    """Faces the second detector sees in the published copy where no face track is (the faces
    image-consent holds the draft on): to be marked. Where a track is blurred, its blocks count
    as the track."""
    tracks = [([list(s) for s in t.sightings], t.blur) for t in media.tracks.all()]

    def known_at(time):
        boxes = [(video_copy.box_at(sightings, time), blurred) for sightings, blurred in tracks]
        return [imaging.widen(box, (10**9, 10**9)) if blurred else box for box, blurred in boxes if box is not None]

    return [s for s in findings(media) or [] if not second_opinion.covered(s.face.box, known_at(s.time))]


@task(queue_name="copies")
def make_copy(media_id: int) -> bool:
    """The task: make this video's published copy if it is still asked for (False when another
    worker has it, or it was made meanwhile)."""
    try:
        return make(media_id)
    except stopping.Interrupted:  # the worker is stopping: the copy is queued again, with a new task
        return False
    finally:
        if tasks.fed_in_turn(make_copy):  # the next in turn takes this one's place in the queue
            tasks.feed(make_copy, queued)


def request(media: MediaFile) -> None:
    """The faces of this video are decided (or a decision changed): its published copy is made
    again, by the worker (or at once when settings.MEDIA_COPIES, which follows MEDIA_ANALYSIS
    unless set, is "inline")."""
    if media.kind != MediaFile.Kind.VIDEO or not media.faces_found_at:
        return
    MediaFile.objects.filter(pk=media.pk).update(copy_state=MediaFile.Copy.QUEUED, copy_progress=0.0, copy_error="")
    if getattr(settings, "MEDIA_COPIES", getattr(settings, "MEDIA_ANALYSIS", "background")) == "inline":
        make(media.pk)
    else:
        enqueue(media.pk)


def enqueue(media_id: int) -> None:
    """Its task, in its turn among the schools (tasks.enqueue_in_turn)."""
    waiting = functools.partial(MediaFile.waiting_beside, media_id, copy_state=MediaFile.Copy.QUEUED)
    tasks.enqueue_in_turn(make_copy, media_id, waiting, queued)


def queued() -> list[tuple[int, int]]:
    """(id, school id) of the videos whose copy is asked for, oldest first (tasks.feed)."""
    return MediaFile.queued_by_school(copy_state=MediaFile.Copy.QUEUED)


@in_its_school(MediaFile)
def make(media_id: int) -> bool:
    """Claim and make one queued copy; False when another worker has it or none is queued."""
    if not MediaFile.objects.filter(pk=media_id, copy_state=MediaFile.Copy.QUEUED).update(
        copy_state=MediaFile.Copy.RUNNING, copy_heartbeat=timezone.now(), copy_progress=0.0,
    ):
        return False
    media = MediaFile.objects.filter(pk=media_id).first()
    if media is None:
        return True
    wanted = decisions_hash(media)
    tracks, words = list(media.tracks.all()), list(media.words.all())
    name = f"{media.pk}-{wanted[:16]}-{uuid.uuid4().hex[:8]}.mp4"
    partial = files.new_file(files.COPIES, f".{name}.partial.mp4")
    try:
        to_blur = blur_list(tracks, words)

        last = [0.0]

        def progress(fraction):  # at most once a second: it is called at every frame
            stopping.check()
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                updated = MediaFile.objects.filter(pk=media_id, copy_state=MediaFile.Copy.RUNNING).update(
                    copy_progress=min(0.99, fraction), copy_heartbeat=timezone.now())
                if not updated and not MediaFile.objects.filter(pk=media_id).exists():
                    raise stopping.Gone(f"media {media_id} was removed")

        if to_blur:
            video_copy.blurred(media.path, to_blur, partial, progress=lambda f: progress(0.7 * f))
        else:
            video_copy.remux(media.path, partial)
        # The second detector looks at the copy now, so that what it sees is decided before approval.
        length = video.inspect(partial).seconds or 1.0
        seen = second_opinion.published_video(partial, progress=lambda at: progress(0.7 + 0.15 * min(1.0, at / length)))
        findings = [[round(s.time, 3), *s.face.box, round(s.face.score, 3)] for s in seen]
        # And the words, as the audience will see them: a blur that leaves part of a name readable shows here.
        words = read_words(partial, progress=lambda at: progress(0.85 + 0.14 * min(1.0, at / length)))
        partial.replace(files.new_file(files.COPIES, name))
        files.keep(files.COPIES, name)  # for the web servers and the worker that publishes
    except stopping.Interrupted:  # left for the next worker
        partial.unlink(missing_ok=True)
        _queue_again(MediaFile.objects.filter(pk=media_id))
        raise
    except stopping.Gone:
        partial.unlink(missing_ok=True)
        return True
    except Exception as error:  # recorded; publishing then derives the copy itself, and fails closed
        partial.unlink(missing_ok=True)
        files.remove(files.COPIES, name)
        logger.exception("The published copy of media %s could not be made", media_id)
        MediaFile.objects.filter(pk=media_id).update(copy_state=MediaFile.Copy.FAILED, copy_error=f"{error}"[:300])
        return True
    old = media.copy_name
    # Only if nothing was decided meanwhile (a newer request leaves the state QUEUED again).
    done = MediaFile.objects.filter(pk=media_id, copy_state=MediaFile.Copy.RUNNING).update(
        copy_state=MediaFile.Copy.DONE, copy_for=wanted, copy_name=name, copy_progress=1.0, copy_error="",
        copy_findings=findings, copy_words=words,
    )
    if done and old and old != name:
        files.remove(files.COPIES, old)
    if not done:
        files.remove(files.COPIES, name)
    return True


def _queue_again(running) -> int:
    """Copies that were being made are asked for again, each with a new task. Returns how many."""
    count = 0
    for media_id in running.values_list("pk", flat=True):
        if MediaFile.objects.filter(pk=media_id, copy_state=MediaFile.Copy.RUNNING).update(
            copy_state=MediaFile.Copy.QUEUED, copy_progress=0.0,
        ):
            enqueue(media_id)
            count += 1
    return count


def requeue_stale(now=None) -> int:
    """Copies whose worker stopped while making them are made again."""
    now = now or timezone.now()
    return _queue_again(MediaFile.objects.filter(copy_state=MediaFile.Copy.RUNNING, copy_heartbeat__lt=now - COPY_STALE_AFTER))


def requeue_abandoned() -> int:
    """At a worker's start: copies left half-made are made again, and any copy asked for without a
    task gets one. Returns how many were queued again."""
    count = requeue_stale()
    give_forgotten_tasks()
    return count


def give_forgotten_tasks() -> int:
    """Copies asked for without a task get one (the worker's start, and its clock every minute); on
    Redis with fair turns, as many as the queue's window holds, in turn."""
    if tasks.fed_in_turn(make_copy):
        return tasks.feed(make_copy, queued)
    return tasks.give_tasks(make_copy, MediaFile.objects.filter(copy_state=MediaFile.Copy.QUEUED).values_list("pk", flat=True), enqueue)


def run_pending(limit: int | None = None) -> int:
    """Run the queued copy tasks here and now, until none is left (or limit). Returns how many
    copies were made."""
    requeue_stale()
    return tasks.run_queued(["copies"], limit)


def discard(media: MediaFile) -> None:
    """The copy is no longer needed (the draft was published, or the file removed)."""
    files.remove(files.COPIES, media.copy_name)
