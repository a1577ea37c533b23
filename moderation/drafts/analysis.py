"""Analysing each uploaded file in the background: finding its faces and reading its words.

The web request only stores the file, marks it queued and enqueues the task `analyse` (in the same
transaction); `python manage.py run_worker` runs the tasks (moderation/upkeep/tasks.py) and
analyses one file at a time, reporting progress that the draft page shows. The state is in the
database (MediaFile.analysis), so a restart loses nothing: a file left running by a worker that
was stopped is queued again, with a new task, and analysed from the start. Until a file is
analysed, the gates that need it fail closed and say so.

settings.MEDIA_ANALYSIS = "inline" analyses in the request instead (the test suite uses it).
"""

import functools
import logging
import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from config.school import files
from config.school.tenancy import in_its_school
from connectors.models import worker_name
from moderation.approval import face_review, video_review
from moderation.models import MediaFile
from moderation.upkeep import stopping, tasks

logger = logging.getLogger(__name__)

# A running analysis whose heartbeat is older than this is taken to have died with its worker.
# The longest single step (the faces of one 50-megapixel photo on one core) takes about a minute.
ANALYSIS_STALE_AFTER = timedelta(minutes=5)
# A worker that could not read a file from the file storage waits this long before its next task;
# a file the storage has not given for this long since its upload fails (the gates hold it).
STORAGE_BACK_OFF_SECONDS = 10
STORAGE_GIVE_UP_AFTER = timedelta(days=1)


@task(queue_name="analysis")
def analyse(media_id: int) -> bool:
    """The task: analyse this upload if it is still queued (False when another worker has it)."""
    try:
        return run(media_id)
    finally:
        if tasks.fed_in_turn(analyse):  # the next in turn takes this one's place in the queue
            tasks.feed(analyse, queued)


def queue(media: MediaFile) -> None:
    """The file waits for the worker; or, inline, is analysed at once."""
    MediaFile.objects.filter(pk=media.pk).update(
        analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_error="", analysis_started_at=None,
    )
    if getattr(settings, "MEDIA_ANALYSIS", "background") == "inline":
        run(media.pk)
    else:
        enqueue(media.pk)


def enqueue(media_id: int) -> None:
    """Its task, in its turn among the schools (tasks.enqueue_in_turn)."""
    waiting = functools.partial(MediaFile.waiting_beside, media_id, analysis=MediaFile.Analysis.QUEUED)
    tasks.enqueue_in_turn(analyse, media_id, waiting, queued)


def queued() -> list[tuple[int, int]]:
    """(id, school id) of the files waiting for analysis, oldest first (tasks.feed)."""
    return MediaFile.queued_by_school(analysis=MediaFile.Analysis.QUEUED)


def _queue_again(running) -> int:
    """Files that were running go back to the queue, each with a new task. Returns how many."""
    count = 0
    for media_id in running.values_list("pk", flat=True):
        if MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.RUNNING).update(
            analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_worker="",
        ):
            enqueue(media_id)
            count += 1
    return count


def claim(media_id: int) -> bool:
    """Move one file from queued to running. Only one worker can win: the update is conditional."""
    now = timezone.now()
    return bool(MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.QUEUED).update(
        analysis=MediaFile.Analysis.RUNNING, analysis_started_at=now, analysis_heartbeat=now, analysis_progress=0.0,
        analysis_worker=worker_name(),
    ))


def requeue_abandoned() -> int:
    """At a worker's start: queue again what a stopped worker on this host left running (its
    process is gone), and anything whose heartbeat has stopped elsewhere; and give a task to any
    queued file without one (queued before the tasks existed, say)."""
    host = socket.gethostname() + ":"
    abandoned = [
        pk for pk, worker in MediaFile.objects.filter(analysis=MediaFile.Analysis.RUNNING, analysis_worker__startswith=host)
        .values_list("pk", "analysis_worker")
        if tasks.gone(worker)
    ]
    count = _queue_again(MediaFile.objects.filter(pk__in=abandoned))
    if count:
        logger.warning("%s file(s) left running by a stopped worker were queued again", count)
    give_forgotten_tasks()
    return count + requeue_stale()


def give_forgotten_tasks() -> int:
    """Queued files without a task get one (the worker's start, and its clock every minute); on
    Redis with fair turns, as many as the queue's window holds, in turn."""
    if tasks.fed_in_turn(analyse):
        return tasks.feed(analyse, queued)
    return tasks.give_tasks(analyse, MediaFile.objects.filter(analysis=MediaFile.Analysis.QUEUED).values_list("pk", flat=True), enqueue)


def requeue_stale(now=None) -> int:
    """Queue again the files whose worker stopped while analysing them."""
    now = now or timezone.now()
    count = _queue_again(MediaFile.objects.filter(analysis=MediaFile.Analysis.RUNNING, analysis_heartbeat__lt=now - ANALYSIS_STALE_AFTER))
    if count:
        logger.warning("%s file(s) left unfinished by a stopped worker were queued again", count)
    return count


def _progress(media_id: int, fraction: float) -> None:
    stopping.check()
    updated = MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.RUNNING).update(
        analysis_progress=min(max(fraction, 0.0), 0.99), analysis_heartbeat=timezone.now(),
    )
    if not updated:  # removed from its draft (or queued again) meanwhile: stop working on it
        raise stopping.Gone(f"media {media_id} is no longer being analysed")


@in_its_school(MediaFile)
def run(media_id: int) -> bool:
    """Claim and analyse one file; False when another worker has it or it is not queued."""
    if not claim(media_id):
        return False
    media = MediaFile.objects.select_related("draft__channel").filter(pk=media_id).first()
    if media is None:  # removed from its draft meanwhile
        return True
    try:
        if media.kind == MediaFile.Kind.IMAGE:
            face_review.find_faces(media, progress=lambda f: _progress(media_id, f))
        else:
            video_review.find_tracks(media, progress=lambda f: _progress(media_id, f))
    except stopping.Interrupted:
        # Left for the next worker, from the start: nothing of a half analysis is kept.
        _queue_again(MediaFile.objects.filter(pk=media_id))
        logger.info("Analysis of media %s stopped with the worker; it is queued again", media_id)
        return True
    except stopping.Gone:
        logger.info("Media %s was removed while it was analysed; skipped", media_id)
        return True
    except files.StorageProblem as error:
        # The file storage out of reach is not the file's fault: the file waits in the queue (the
        # clock gives it a task again within a minute), for a day at most; analysed in the web
        # request, or after that, it fails as below.
        inline = getattr(settings, "MEDIA_ANALYSIS", "background") == "inline"
        if not inline and timezone.now() - media.added_at < STORAGE_GIVE_UP_AFTER:
            MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.RUNNING).update(
                analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_worker="",
            )
            logger.warning("Media %s could not be read (%s); it waits in the queue", media_id, error)
            stopping.requested.wait(STORAGE_BACK_OFF_SECONDS)  # not every file of the queue failing in turn at once
            return True
        return _failed(media_id, error)
    except Exception as error:  # recorded, never hidden: the gates fail closed on it
        return _failed(media_id, error)
    MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.RUNNING).update(
        analysis=MediaFile.Analysis.DONE, analysis_progress=1.0, analysis_heartbeat=timezone.now(),
    )
    return True


def _failed(media_id: int, error: Exception) -> bool:
    """The failure recorded, never hidden: the gates fail closed on it."""
    if not MediaFile.objects.filter(pk=media_id).exists():  # removed meanwhile: nothing to record
        logger.info("Media %s was removed while it was analysed; skipped", media_id)
        return True
    logger.error("Analysis of media %s failed", media_id, exc_info=error)
    MediaFile.objects.filter(pk=media_id).update(
        analysis=MediaFile.Analysis.FAILED, analysis_error=f"It could not be analysed: {error}"[:300],
        analysis_heartbeat=timezone.now(),
    )
    return True


def run_pending(limit: int | None = None) -> int:
    """Run the queued analysis tasks here and now, until none is left (or limit): what
    `run_worker --once` and `seed_demo` do. Returns how many files were analysed."""
    requeue_stale()
    return tasks.run_queued(["analysis"], limit)


def analysis_note(media: MediaFile) -> str:
    """What to say about a file the worker has not finished with ("" once it has)."""
    if media.analysis == MediaFile.Analysis.DONE:
        return ""
    if media.analysis == MediaFile.Analysis.FAILED:
        return f"'{media.original_name}' could not be analysed ({media.analysis_error}). Remove it and upload it again."
    if media.analysis == MediaFile.Analysis.RUNNING:
        return f"'{media.original_name}' is still being analysed ({media.analysis_progress:.0%} done)."
    return f"'{media.original_name}' is waiting to be analysed."
