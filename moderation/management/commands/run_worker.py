"""python manage.py run_worker [--once]

The product's background worker. It runs the background tasks (moderation/upkeep/tasks.py): it
analyses uploaded photos and videos (finds their faces and reads their words) so that the web
request does not wait for it, makes videos' published copies, and, as its clock
(moderation/upkeep/worker.py) enqueues them, publishes approved drafts at their publish time, tries
again what waits for its platform, reads the comments on published posts for the DSL, reminds the
headteacher of annual reviews, checks the platform connections daily and finishes takedowns. Two
loops run the tasks: one for the slow work on pictures, one for what must not wait behind it.
`make run` starts it beside the web server; in production run it as its own service (see the
README). Several workers may run at once, on one machine or several: each task is claimed by one.

Everything it does is recorded in the database, so stopping it at any moment loses nothing: at its
next start the jobs are built again from the database, a file it was analysing is queued again, and
a draft that fell due while it was down is published then, once.
"""

import logging
import os
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from config.school import audit
from config.school.tenancy import for_each_school, scopes_disabled
from moderation.aftercare import monitoring
from moderation.drafts import analysis
from moderation.publishing import video_copies
from moderation.reviews import services as reviews
from moderation.upkeep import health, stopping, tasks, worker
from moderation.upkeep.worker import Clock

logger = logging.getLogger(__name__)


# SIGTERM to exit: the analysis in hand stops at its next step; a scheduled job gets this long.
STOP_WAIT_SECONDS = 5


class Command(BaseCommand):
    help = "Run the background worker: analysis of uploads, timed publishing, comment monitoring, reminders."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="do one round of everything that is due now, then stop")

    def handle(self, *args, once, **options):
        with scopes_disabled():  # every school's files: each task then works in its file's school
            tasks.close_abandoned()
            requeued = analysis.requeue_abandoned()
            video_copies.requeue_abandoned()
        if requeued:
            self.stdout.write(f"{requeued} file(s) left unfinished by a stopped worker were queued again.")
        if once:
            health.beat()
            with scopes_disabled():
                done = analysis.run_pending()
                copies = video_copies.run_pending()
            tasks.run_queued(tasks.QUICK)  # posts due, rounds enqueued before
            published = worker.publishing_duties()
            raised = [c for school in for_each_school(monitoring.read_comments) for c in school]
            reminders = [r for school in for_each_school(reviews.send_reminders) for r in school]
            seals = [s for s in for_each_school(audit.seal_if_due) if s]
            warned, expired = worker.retention_round.call()
            self.stdout.write(
                f"{done} file(s) analysed; {copies} video cop{'y' if copies == 1 else 'ies'} made for publishing; "
                f"{published} scheduled post(s) published; "
                f"{len(raised)} comment(s) of concern raised; {len(reminders)} reminder(s) sent; "
                f"{warned} author(s) warned and {expired} draft(s) cleared of uploads kept {settings.DRAFT_RETENTION_DAYS} days unused"
                + (f"; the audit trail sealed at entry {', '.join(str(s.entry_id) for s in seals)}." if seals else ".")
            )
            return
        if tasks.on_redis():
            return self.work_on_redis()
        slow, quick = tasks.runner(tasks.SLOW), tasks.runner(tasks.QUICK)

        def stop(signum, frame):
            # The analysis in hand notices at its next step (a fraction of a second) and goes back to the queue.
            stopping.requested.set()
            slow.running = quick.running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        clock = Clock()
        clock.start()
        beside = threading.Thread(target=keep_running, args=(quick,), name="quick-tasks")
        beside.start()
        scheduled = len(clock.publish_jobs())
        self.stdout.write(
            "The worker is running: it analyses uploads, publishes at their time the "
            f"{scheduled} approved post(s) waiting for it, reads comments, sends reminders and seals the audit trail daily. Stop it with Ctrl+C."
        )
        try:
            keep_running(slow)
        finally:
            clock.stop(wait_seconds=0)
            beside.join(STOP_WAIT_SECONDS)
        if beside.is_alive():
            # A publish or a round of comments still running: its journal and the database let the
            # next worker carry on from where it is cut.
            self.stdout.write("The worker stopped; a task still running is left to the next worker.")
            self.stdout.flush()
            os._exit(0)
        self.stdout.write("The worker stopped.")


    def work_on_redis(self):
        """One RQ worker over every queue, the quick ones first: at a trust's scale there are many
        of them, on many machines. RQ stops it on SIGTERM once the task in hand ends, and the
        analysis in hand ends at its next step (RedisWorker)."""
        clock = Clock()
        clock.start()
        self.stdout.write(
            f"The worker is running on the Redis queue: {len(clock.publish_jobs())} approved post(s) wait for their time. Stop it with Ctrl+C."
        )
        self.stdout.flush()
        try:
            tasks.redis_worker([*tasks.QUICK, *tasks.SLOW]).work(logging_level="WARNING")
        finally:
            clock.stop(wait_seconds=0)
        self.stdout.write("The worker stopped.")


def keep_running(loop) -> None:
    """Run a loop of tasks until it is stopped; a database that restarts, say, only pauses it (the
    state is in the database)."""
    while loop.running:
        try:
            loop.run()
        except Exception:
            logger.exception("The worker's tasks hit an error; it carries on")
            time.sleep(5)
        finally:
            connections.close_all()  # this thread's connections
