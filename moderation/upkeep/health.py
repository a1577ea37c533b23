"""`/health/` for the reverse proxy and the school's monitoring: is the product able to do its job?

The database answers, a worker has been heard of recently (it analyses uploads and publishes at
their time: without it drafts wait for ever), its tasks do not wait too long (a worker alive but
stuck, or too few workers for the uploads), the data folder has room, and the file storage (a
bucket, for several machines) answers. The answer holds no
personal data: states and numbers only. 200 when all is well, 503 otherwise, with which part failed.
"""

import os
import shutil
import socket
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.db.models.functions import Coalesce, Greatest
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

from config.school import files, wall
from config.school.tenancy import scopes_disabled
from moderation.drafts import analysis
from moderation.models import MediaFile, WorkerBeat
from moderation.upkeep import tasks

# The worker beats every BEAT_SECONDS; one not heard of for WORKER_SILENT_AFTER is taken to be down.
BEAT_SECONDS = 30
WORKER_SILENT_AFTER = timedelta(minutes=2)
# A task waiting longer than this means the worker is stuck or cannot keep up: a post due at 9:00
# and the rounds are run within seconds; an upload waits behind the uploads before it.
TASKS_LATE_AFTER = {**dict.fromkeys(tasks.QUICK, timedelta(minutes=5)), **dict.fromkeys(tasks.SLOW, timedelta(minutes=30))}


def beat(now=None) -> None:
    """The worker's round: say it is alive (one row per host and process)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    WorkerBeat.objects.update_or_create(name=name, defaults={"beat_at": now or timezone.now()})


def checks(now=None) -> dict:
    now = now or timezone.now()
    result = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        result["database"] = {"ok": True}
    except DatabaseError:
        result["database"] = {"ok": False, "problem": "the database does not answer"}
        result["worker"] = {"ok": False, "problem": "unknown while the database does not answer"}
        result["tasks"] = {"ok": False, "problem": "unknown while the database does not answer"}
    if result["database"]["ok"]:
        newest = WorkerBeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
        if newest is None:
            result["worker"] = {"ok": False, "problem": "no worker has run: start `python manage.py run_worker`"}
        else:
            silent = (now - newest).total_seconds()
            result["worker"] = {"ok": silent <= WORKER_SILENT_AFTER.total_seconds(), "last_heard_seconds_ago": round(silent)}
            if not result["worker"]["ok"]:
                result["worker"]["problem"] = "the worker has not been heard of for over two minutes"
        result["tasks"] = _tasks(now)
    result["disk"] = _disk()
    result["files"] = _files()
    if result["database"]["ok"]:
        result["school_wall"] = _school_wall()
    return result


def _school_wall() -> dict:
    """Whether PostgreSQL keeps schools apart too (config/school/wall.py)."""
    state = wall.state()
    if state.startswith("down"):
        return {"ok": False, "problem": f"the database's wall between schools is {state}"}
    return {"ok": True, "state": state}


def _files() -> dict:
    """Whether the storage of the school's files answers: a bucket's address and credentials (the
    three kinds of file share one bucket, or the data folder that _disk checks)."""
    try:
        files.exists(files.UPLOADS, "health-check")
    except files.StorageProblem as error:
        return {"ok": False, "problem": f"the file storage does not answer: {error}"}
    return {"ok": True}


def _disk() -> dict:
    if not settings.DATA_DIR.is_dir():
        return {"ok": False, "problem": f"the data folder {settings.DATA_DIR} does not exist: set DATA_DIR to the folder the README's set-up made"}
    free_mb = shutil.disk_usage(settings.DATA_DIR).free // 2**20
    minimum = int(getattr(settings, "HEALTH_MIN_FREE_MB", 1024))
    answer = {"ok": free_mb >= minimum, "free_mb": free_mb}
    if not answer["ok"]:
        answer["problem"] = f"less than {minimum} MB free in the data folder"
    return answer


def forget_old_beats(now=None) -> int:
    """Workers not heard of for a day are forgotten (one row is kept for each host and process)."""
    deleted, _ = WorkerBeat.objects.filter(beat_at__lt=(now or timezone.now()) - timedelta(days=1)).delete()
    return deleted


def _waiting_for_their_turn(now) -> tuple[int, float]:
    """Uploads waiting in the database for their turn to be handed to a Redis queue fed in turn
    (tasks.feed): how many, and the longest any has waited since it was uploaded or last worked on
    (a file queued again after a worker stopped waits from then)."""
    with scopes_disabled():  # every school's, and the database's wall open (config/school/wall.py)
        queued = MediaFile.objects.filter(analysis=MediaFile.Analysis.QUEUED)
        found = queued.annotate(since=Greatest("added_at", Coalesce("analysis_heartbeat", "added_at"))).aggregate(
            count=Count("pk"), oldest=Min("since"))
    return found["count"], (now - found["oldest"]).total_seconds() if found["oldest"] else 0.0


def _tasks(now) -> dict:
    try:
        waiting = tasks.backlog(now)
        if tasks.on_redis() and tasks.fed_in_turn(analysis.analyse):
            # Redis holds only a few of them: the others wait in the database, and count here.
            count, waited = _waiting_for_their_turn(now)
            if count:
                in_redis, oldest = waiting.get("analysis", (0, 0.0))
                waiting["analysis"] = (max(count, in_redis), max(waited, oldest))
    except (DatabaseError, RedisError) as error:
        return {"ok": False, "problem": f"the task queue does not answer ({error.__class__.__name__}): check Redis (REDIS_URL) or the database"}
    late = sorted(queue for queue, (_, waited) in waiting.items() if waited > TASKS_LATE_AFTER.get(queue, timedelta(minutes=30)).total_seconds())
    answer = {"ok": not late, "waiting": {queue: {"count": count, "oldest_seconds": round(waited)} for queue, (count, waited) in sorted(waiting.items())}}
    if late:
        answer["problem"] = ("tasks wait too long in " + ", ".join(late) + ": the worker is stuck or cannot keep up "
                             "(see its log; start another worker)")
    return answer


@never_cache
@login_not_required
def health(request):
    parts = checks()
    healthy = all(part["ok"] for part in parts.values())
    return JsonResponse({"status": "ok" if healthy else "failing", **parts}, status=200 if healthy else 503)
