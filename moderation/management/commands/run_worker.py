"""python manage.py run_worker [--once]

The product's background worker: it analyses uploaded photos and videos (finds their faces and reads their
words) so that the web request does not wait for it. `make run` starts it beside the web server;
in production run it as its own service (see the README). Everything it does is recorded in the
database, so stopping it at any moment loses nothing: the file it was analysing is queued again
when a worker starts.
"""

import logging
import signal

from django.core.management.base import BaseCommand

from moderation import analysis

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the background worker that analyses uploaded photos and videos."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="analyse what is queued now, then stop")

    def handle(self, *args, once, **options):
        requeued = analysis.requeue_abandoned()
        if requeued:
            self.stdout.write(f"{requeued} file(s) left unfinished by a stopped worker were queued again.")
        if once:
            done = analysis.run_pending()
            self.stdout.write(f"{done} file(s) analysed.")
            return
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("The worker is running: it analyses uploaded photos and videos. Stop it with Ctrl+C.")
        analysis.work_forever(lambda: bool(stopping))
        self.stdout.write("The worker stopped.")
