"""The worker's clock: APScheduler, inside `python manage.py run_worker`. It does no work itself:
it enqueues the tasks that do (moderation/upkeep/tasks.py), which any worker process runs.

The database is the truth and the scheduler only a clock. At every start the jobs are built from
the database: one job for each approved draft with a publish time (at that time it enqueues
`publish_at_its_time`), and the rounds. Scheduled drafts are read again every
SCHEDULE_SYNC_SECONDS, so a draft approved, reopened or withdrawn meanwhile gets, moves or loses
its job. Each task decides again from the database what to do, so killing the worker at any
moment and starting it again loses nothing and does nothing twice: a draft is published by
whoever moves it from approved to publishing first.
"""

import functools
import logging
import threading
import time
import uuid
from datetime import timedelta
from datetime import timezone as dt_timezone

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.exceptions import TaskResultDoesNotExist

from config.school import audit, files
from config.school.tenancy import for_each_school, scopes_disabled
from connectors.models import worker_name
from moderation.aftercare import concerns, monitoring, retention
from moderation.drafts import analysis
from moderation.models import ClockLease
from moderation.publishing import scheduling, video_copies
from moderation.publishing import services as publishing
from moderation.reviews import services as reviews
from moderation.upkeep import health, stray_files, tasks

logger = logging.getLogger(__name__)

PUBLISH_JOB = "publish-draft-{}"


def job(function):
    """A job runs in one of the scheduler's threads: its own database connections, closed when it
    ends (a thread's connection would otherwise outlive it), and an error never stops the worker."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        close_old_connections()
        try:
            return function(*args, **kwargs)
        except Exception:  # a database that restarts, a platform down: the next round tries again
            logger.exception("The worker's job %s failed; it runs again at its next time", function.__name__)
        finally:
            connections.close_all()  # this thread's connections only

    return run


def publishing_duties() -> int:
    """What fell due and was missed, what waits for its platform, takedowns to finish, in every
    school. Returns how many scheduled posts were published."""
    return sum(for_each_school(school_publishing_duties))


def school_publishing_duties() -> int:
    publishing.run_due()
    published = scheduling.publish_due()
    concerns.retry_takedowns()
    concerns.tell_untold()
    return published


# The rounds, as tasks; `run_worker --once` calls the same functions directly.
@task(queue_name="rounds")
def publishing_round() -> int:
    return publishing_duties()


@task(queue_name="rounds")
def comments_round() -> int:
    return sum(for_each_school(lambda: len(monitoring.read_comments())))


@task(queue_name="rounds")
def reviews_round() -> int:
    return sum(for_each_school(lambda: len(reviews.send_reminders())))


@task(queue_name="rounds")
def seal_round() -> list[int]:
    """Each school's audit trail sealed (the entry sealed, for each school whose seal was due)."""
    return [seal.entry_id for seal in for_each_school(audit.seal_if_due) if seal]


@task(queue_name="rounds")
def retention_round() -> list[int]:
    """[authors warned, drafts cleared], over every school."""
    return [sum(column) for column in zip(*for_each_school(retention.run))] or [0, 0]


@task(queue_name="rounds")
def tidy_round() -> int:
    health.forget_old_beats()
    stray_files.delete_strays()
    files.sweep_working_copies(force=True)
    return tasks.prune()


# A task the clock enqueued (a round, a post at its time) is not enqueued again while it waits; one
# that has been running this long is taken to have died with its worker.
ROUND_STALE_AFTER = timedelta(minutes=30)


def still_to_run(result) -> bool:
    """Whether a task the clock enqueued still waits, or runs (not for longer than a task can)."""
    if result is None:
        return False
    try:
        result.refresh()
    except TaskResultDoesNotExist:  # its record was pruned: it ran long ago
        return False
    if result.status == TaskResultStatus.READY:
        return True
    return result.status == TaskResultStatus.RUNNING and bool(result.started_at) and (
        timezone.now() - result.started_at < ROUND_STALE_AFTER)


# The installation's clock is the one holding the lease; another takes over a lease not renewed this long.
LEASE_SECONDS = 90
CLOCK = "clock"


def holds_the_clock(me: str, now=None) -> bool:
    """Whether this worker's clock is the installation's now: it takes or renews the lease when it
    is free, expired or already its own, in one statement, so two clocks never both hold it."""
    now = now or timezone.now()
    until = now + timedelta(seconds=LEASE_SECONDS)
    ClockLease.objects.get_or_create(name=CLOCK, defaults={"holder": me, "until": until})
    return bool(ClockLease.objects.filter(Q(holder=me) | Q(until__lt=now), name=CLOCK).update(holder=me, until=until))


def every_time(round_task, is_the_clock):
    """What the clock does for a round: enqueue its task, unless the last one is still to run or
    another worker's clock is the installation's (each round then runs once, not once per worker)."""
    last = [None]

    def enqueue():
        if not is_the_clock():
            return
        if not still_to_run(last[0]):
            last[0] = round_task.enqueue()

    enqueue.__name__ = round_task.name
    return enqueue


@job
def queue_stale_work():
    """Uploads and copies whose worker stopped (on any machine) are queued again, and any queued
    without a task (its queue did not answer) gets one: every school's (each task then works in
    its file's school)."""
    with scopes_disabled():
        analysis.requeue_stale()
        video_copies.requeue_stale()
        analysis.give_forgotten_tasks()
        video_copies.give_forgotten_tasks()


beat_round = job(health.beat)  # this process's own heartbeat: not a task another process could run


class Clock:
    def __init__(self):
        self.scheduler = BackgroundScheduler(
            timezone=dt_timezone.utc,
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            # A job that missed its time (the worker was down) runs once, as soon as it can.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.rounds = [
            ("publishing", publishing_round, {"seconds": 30}),
            ("comments", comments_round, {"minutes": settings.COMMENT_CHECK_MINUTES}),
            ("reviews", reviews_round, {"hours": 1}),
            ("audit-seal", seal_round, {"hours": 1}),
            ("retention", retention_round, {"hours": 6}),
            ("tidy", tidy_round, {"hours": 6}),
        ]
        self.me = f"{worker_name()}:{uuid.uuid4().hex[:8]}"
        self.holds_lease = None  # not asked yet
        self.enqueuers = {id: job(every_time(round_task, self.is_the_clock)) for id, round_task, _ in self.rounds}
        self.publishing = {}  # draft id: the task enqueued at its time
        self.publishing_lock = threading.Lock()
        self.publish_draft = job(self.enqueue_publish)

    def enqueue_publish(self, draft_id: int) -> None:
        # Every clock keeps the jobs; the installation's clock enqueues. Were it to die at that very
        # moment, the next publishing round of the clock that takes over publishes what fell due.
        # A sync at the same moment sees the job gone from the scheduler and no task yet, and adds
        # the job again: the second run finds the first one's task still waiting and leaves it.
        with self.publishing_lock:
            if self.is_the_clock() and not still_to_run(self.publishing.get(draft_id)):
                self.publishing[draft_id] = scheduling.publish_at_its_time.enqueue(draft_id)

    def add_rounds(self):
        add = self.scheduler.add_job
        add(job(self.sync), "interval", seconds=settings.SCHEDULE_SYNC_SECONDS, id="sync", replace_existing=True)
        for id, round_task, every in self.rounds:
            add(self.enqueuers[id], "interval", **every, id=id, replace_existing=True)
        add(queue_stale_work, "interval", minutes=1, id="stale-work", replace_existing=True)
        add(beat_round, "interval", seconds=health.BEAT_SECONDS, id="beat", replace_existing=True)
        add(job(functools.partial(self.is_the_clock, ask=True)), "interval", seconds=health.BEAT_SECONDS, id="clock-lease", replace_existing=True)

    def is_the_clock(self, ask: bool = False) -> bool:
        """Whether this clock is the installation's. The database is asked at the start and every half
        minute by the lease job (ask=True); in between, the answer it gave stands, so that a round or
        a post due enqueues its task as quickly as before, without writing the lease each time."""
        if ask or self.holds_lease is None:
            try:
                self.holds_lease = holds_the_clock(self.me)
            except DatabaseError:  # busy or away for a moment: the last answer stands until the next time
                logger.warning("The clock's lease could not be read; its last answer stands", exc_info=True)
        return bool(self.holds_lease)

    def sync(self) -> None:
        """Make the publish jobs match the approved drafts with a publish time, as the database says now."""
        with self.publishing_lock:
            self._sync()

    def _sync(self) -> None:
        with scopes_disabled():  # every school's: each publish task works in its draft's school
            wanted = dict(scheduling.scheduled_drafts().values_list("pk", "publish_at"))
        # Published, withdrawn or reopened since: nothing more to remember of them.
        self.publishing = {pk: result for pk, result in self.publishing.items() if pk in wanted}
        for existing in self.scheduler.get_jobs():
            if existing.id.startswith("publish-draft-") and int(existing.id.rsplit("-", 1)[1]) not in wanted:
                try:
                    self.scheduler.remove_job(existing.id)
                except JobLookupError:
                    pass  # it ran meanwhile
        for draft_id, publish_at in wanted.items():
            if still_to_run(self.publishing.get(draft_id)):
                continue  # enqueued at its time: the draft stays approved until a worker runs the task
            current = self.scheduler.get_job(PUBLISH_JOB.format(draft_id))
            if current is None or current.trigger.run_date != publish_at:
                self.scheduler.add_job(
                    self.publish_draft, "date", run_date=publish_at, args=[draft_id], id=PUBLISH_JOB.format(draft_id), replace_existing=True,
                )

    def start(self, *, paused: bool = False) -> None:
        """Build every job from the database, then start the clock. A draft that fell due while no
        worker ran has a job in the past, which runs at once."""
        self.sync()
        self.is_the_clock(ask=True)  # before any job runs: the jobs at start only read the answer
        self.add_rounds()
        # The first rounds run at once, not half a minute (or an hour) after a restart.
        for id, round_task, every in self.rounds:
            self.scheduler.add_job(self.enqueuers[id], id=f"{id}-at-start")
        self.scheduler.add_job(beat_round, id="beat-at-start")
        self.scheduler.start(paused=paused)

    def stop(self, wait_seconds: float | None = None) -> int:
        """Stop the clock. With wait_seconds, wait at most that long for the jobs running now;
        returns how many are still running (0 when they all finished)."""
        if not self.scheduler.running:
            return 0
        if wait_seconds is None:
            self.scheduler.shutdown(wait=True)
            return 0
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            running = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
            if not running:
                return 0
            time.sleep(0.1)
        return len([t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()])

    def publish_jobs(self) -> dict[int, object]:
        return {int(j.id.rsplit("-", 1)[1]): j for j in self.scheduler.get_jobs() if j.id.startswith("publish-draft-")}
