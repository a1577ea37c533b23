"""Analysing each uploaded file in the background: finding its faces and reading its words.

The web request only stores the file and queues it; `python manage.py run_worker` claims queued
files one at a time and analyses them, reporting progress that the draft page shows. The state is
in the database (MediaFile.analysis), so a restart loses nothing: a file left running by a worker
that was stopped is queued again and analysed from the start. Until a file is analysed, the gates
that need it fail closed and say so.

settings.MEDIA_ANALYSIS = "inline" analyses in the request instead (the test suite uses it).
"""

import logging
import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from connectors.models import worker_name
from moderation.approval import face_review, video_review
from moderation.models import (
    MediaFile,
)
from moderation.publishing import video_copies
from moderation.upkeep import stopping

logger = logging.getLogger(__name__)

# A running analysis whose heartbeat is older than this is taken to have died with its worker.
# The longest single step (the faces of one 50-megapixel photo on one core) takes about a minute.
ANALYSIS_STALE_AFTER = timedelta(minutes=5)


def queue(media: MediaFile) -> None:
    """The file waits for the worker; or, inline, is analysed at once."""
    MediaFile.objects.filter(pk=media.pk).update(
        analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_error="", analysis_started_at=None,
    )
    if getattr(settings, "MEDIA_ANALYSIS", "background") == "inline":
        run(media.pk)


def claim(media_id: int) -> bool:
    """Move one file from queued to running. Only one worker can win: the update is conditional."""
    now = timezone.now()
    return bool(MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.QUEUED).update(
        analysis=MediaFile.Analysis.RUNNING, analysis_started_at=now, analysis_heartbeat=now, analysis_progress=0.0,
        analysis_worker=worker_name(),
    ))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def requeue_abandoned() -> int:
    """At a worker's start: queue again what a stopped worker on this host left running (its
    process is gone), and anything whose heartbeat has stopped elsewhere."""
    host = socket.gethostname() + ":"
    abandoned = [
        pk for pk, worker in MediaFile.objects.filter(analysis=MediaFile.Analysis.RUNNING, analysis_worker__startswith=host)
        .values_list("pk", "analysis_worker")
        if not worker[len(host):].isdigit() or not _alive(int(worker[len(host):]))
    ]
    count = MediaFile.objects.filter(pk__in=abandoned, analysis=MediaFile.Analysis.RUNNING).update(
        analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_worker="",
    )
    if count:
        logger.warning("%s file(s) left running by a stopped worker were queued again", count)
    return count + requeue_stale()


def requeue_stale(now=None) -> int:
    """Queue again the files whose worker stopped while analysing them."""
    now = now or timezone.now()
    count = MediaFile.objects.filter(
        analysis=MediaFile.Analysis.RUNNING, analysis_heartbeat__lt=now - ANALYSIS_STALE_AFTER,
    ).update(analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_worker="")
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
        MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.RUNNING).update(
            analysis=MediaFile.Analysis.QUEUED, analysis_progress=0.0, analysis_worker="",
        )
        logger.info("Analysis of media %s stopped with the worker; it is queued again", media_id)
        return True
    except stopping.Gone:
        logger.info("Media %s was removed while it was analysed; skipped", media_id)
        return True
    except Exception as error:  # recorded, never hidden: the gates fail closed on it
        if not MediaFile.objects.filter(pk=media_id).exists():  # removed meanwhile: nothing to record
            logger.info("Media %s was removed while it was analysed; skipped", media_id)
            return True
        logger.exception("Analysis of media %s failed", media_id)
        MediaFile.objects.filter(pk=media_id).update(
            analysis=MediaFile.Analysis.FAILED, analysis_error=f"It could not be analysed: {error}"[:300],
            analysis_heartbeat=timezone.now(),
        )
        return True
    MediaFile.objects.filter(pk=media_id, analysis=MediaFile.Analysis.RUNNING).update(
        analysis=MediaFile.Analysis.DONE, analysis_progress=1.0, analysis_heartbeat=timezone.now(),
    )
    return True


def run_pending(limit: int | None = None) -> int:
    """Analyse queued files, oldest first, until none is left (or limit). Returns how many."""
    done = 0
    while limit is None or done < limit:
        requeue_stale()
        next_id = (
            MediaFile.objects.filter(analysis=MediaFile.Analysis.QUEUED).order_by("added_at", "pk").values_list("pk", flat=True).first()
        )
        if next_id is None:
            break
        if run(next_id):
            done += 1
    return done


def work_forever(stop, idle_seconds: float = 1.0) -> None:
    """The worker's analysis loop: analyse what is queued, then wait a little. stop() ends it
    between files. Timed work (publishing, comments, reminders) runs beside it on the worker's
    scheduler (moderation.upkeep.worker)."""
    while not stop() and not stopping.requested.is_set():
        try:
            # An upload to analyse first; then a video's published copy to make.
            if not run_pending(limit=1) and not video_copies.run_pending(limit=1):
                time.sleep(idle_seconds)
        except stopping.Interrupted:  # its work is back in the queue
            break
        except Exception:  # a database that restarts, say: keep going, the state is in the database
            logger.exception("The analysis worker hit an error; it carries on")
            time.sleep(5)


def analysis_note(media: MediaFile) -> str:
    """What to say about a file the worker has not finished with ("" once it has)."""
    if media.analysis == MediaFile.Analysis.DONE:
        return ""
    if media.analysis == MediaFile.Analysis.FAILED:
        return f"'{media.original_name}' could not be analysed ({media.analysis_error}). Remove it and upload it again."
    if media.analysis == MediaFile.Analysis.RUNNING:
        return f"'{media.original_name}' is still being analysed ({media.analysis_progress:.0%} done)."
    return f"'{media.original_name}' is waiting to be analysed."
