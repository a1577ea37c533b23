"""python manage.py bench_worker: what the worker's timed duties cost on this machine.

Measures, in a throwaway database (like the tests): rebuilding the publish jobs from 1,000
scheduled drafts (what a starting worker does, and every sync); one comments round over 200
published posts holding 20 comments each through the outbox (reading, the text gates, storing);
a second round in which nothing is new; and publishing 50 drafts that fell due while no worker ran.
"""

import json
import logging
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.test import override_settings
from django.test.utils import setup_databases, teardown_databases
from django.utils import timezone

from config.school import files, roles
from config.school.commands import ThrowawaySchoolCommand
from moderation.accounts import services as accounts
from moderation.aftercare import monitoring
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.demo.sample import complete_channel
from moderation.drafts import analysis
from moderation.drafts import services as drafting
from moderation.models import Approval, Draft, GateRun, MediaFile, PlatformComment, PublishedPost
from moderation.publishing import scheduling
from moderation.upkeep import tasks
from moderation.upkeep.worker import Clock

COMMENTS = [
    "Lovely photos, well done everyone!", "Thank you for organising this.", "What time does it start on Friday?",
    "The children loved it.", "Brilliant work, Year 4!", "You are all liars.", "im 9 and i was in this!!",
]


class Command(ThrowawaySchoolCommand):
    help = "Measure the worker's timed duties: rebuilding jobs, reading comments, publishing what fell due."

    def handle(self, *args, **options):
        logging.disable(logging.WARNING)
        state = setup_databases(verbosity=0, interactive=False)
        try:
            with tempfile.TemporaryDirectory() as folder, override_settings(
                OUTBOX_DIR=Path(folder) / "outbox", STORAGES={**settings.STORAGES, **files.on_local_disk_under(Path(folder))},
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            ):
                with self.in_the_school():
                    self.run()
        finally:
            teardown_databases(state, verbosity=0)

    def run(self):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        head = User.objects.create_user("bench-head", email="head@example.org")
        roles.give_role(head, self.school, roles.HEADTEACHER)
        office = User.objects.create_user("bench-office")
        roles.give_role(office, self.school, roles.OFFICE_STAFF)
        approver = User.objects.create_user("bench-approver")
        roles.give_role(approver, self.school, roles.APPROVER)
        head, office, approver = (User.objects.get(pk=u.pk) for u in (head, office, approver))
        for user in (head, office, approver):
            accounts.accept_aup(user)
        channel = complete_channel(head, authors=[office])
        now = timezone.now()

        # 1,000 scheduled drafts, as rows: the sync reads only their ids and times.
        Draft.objects.bulk_create(
            Draft(school=channel.school, channel=channel, author=office, status=Draft.Status.APPROVED, link=f"https://example.org/{n}",
                  publish_at=now + timedelta(minutes=n + 5))
            for n in range(1000)
        )
        worker = Clock()
        start = time.perf_counter()
        worker.start(paused=True)
        first = time.perf_counter() - start
        times = []
        for _ in range(5):
            start = time.perf_counter()
            worker.sync()
            times.append(time.perf_counter() - start)
        jobs = len(worker.publish_jobs())
        worker.stop()
        self.stdout.write("\n== Rebuilding the worker's jobs from the database")
        self.stdout.write(f"1,000 scheduled drafts: {jobs} publish jobs built in {first * 1000:.0f} ms at start; "
                          f"a sync with nothing changed: median {statistics.median(times) * 1000:.0f} ms")
        Draft.objects.filter(status=Draft.Status.APPROVED).delete()

        # 200 published posts with 20 comments each, beside them in the outbox.
        template = drafting.create_draft(office, channel, link="https://example.org/template", objective="community",
                                         intended_outcome="Families read the news.")
        drafting.submit(template, office)
        approval = approving.approve(template, approver, dict(ATTESTATIONS))
        run = GateRun.objects.filter(draft=template).first()
        posts = []
        for n in range(200):
            draft = Draft.objects.create(channel=channel, author=office, status=Draft.Status.PUBLISHED, link=f"https://example.org/p{n}")
            posts.append(PublishedPost(draft=draft, channel=channel, connector="outbox", platform_post_id=f"outbox-bench-{n}",
                                       published_by=approver, approval=Approval.objects.get(pk=approval.pk), gate_run=run, content_hash="x"))
        PublishedPost.objects.bulk_create(posts)
        for post in PublishedPost.objects.filter(platform_post_id__startswith="outbox-bench-"):
            folder = settings.OUTBOX_DIR / post.platform_post_id
            folder.mkdir(parents=True)
            (folder / "comments.json").write_text(json.dumps([
                {"id": f"{post.pk}-{c}", "author": "A parent", "text": COMMENTS[c % len(COMMENTS)]} for c in range(20)
            ]))
        monitoring.read_comments()  # loads the language model once, as a running worker has

        PlatformComment.objects.all().delete()
        start = time.perf_counter()
        raised = monitoring.read_comments()
        first = time.perf_counter() - start
        start = time.perf_counter()
        monitoring.read_comments()
        again = time.perf_counter() - start
        self.stdout.write("\n== Reading comments (outbox; the text gates on each new comment)")
        self.stdout.write(f"200 posts × 20 comments: first round {first:.1f} s ({first / 4000 * 1000:.1f} ms a comment), "
                          f"{len(raised)} raised; next round with nothing new {again:.2f} s")

        # 50 drafts that fell due while no worker ran.
        due = []
        for n in range(50):
            draft = drafting.create_draft(office, channel, link=f"https://example.org/due-{n}", objective="community",
                                          intended_outcome="Families read the news.", publish_at=now - timedelta(minutes=n + 1))
            drafting.submit(draft, office)
            approving.approve(draft, approver, dict(ATTESTATIONS))
            due.append(draft)
        start = time.perf_counter()
        published = scheduling.publish_due()
        elapsed = time.perf_counter() - start
        self.stdout.write("\n== Publishing what fell due while no worker ran (outbox; every gate again)")
        self.stdout.write(f"{published} of 50 published in {elapsed:.1f} s ({elapsed / 50 * 1000:.0f} ms a post)")

        # The tasks' own cost: an analysis task whose file is not queued (another worker has it)
        # does only what every task does, so the time is the queue's: enqueue, claim, run, record.
        idle = MediaFile.objects.create(draft=template, position=99, kind=MediaFile.Kind.IMAGE, original_name="bench.png",
                                        stored_name="bench.png", content_type="image/png", size=1, sha256="0" * 64,
                                        analysis=MediaFile.Analysis.DONE)
        start = time.perf_counter()
        for _ in range(500):
            analysis.run(idle.pk)
        direct = (time.perf_counter() - start) / 500
        start = time.perf_counter()
        for _ in range(500):
            analysis.analyse.enqueue(idle.pk)
        enqueued = (time.perf_counter() - start) / 500
        start = time.perf_counter()
        ran = tasks.run_queued(["analysis"])
        claimed = (time.perf_counter() - start) / 500
        self.stdout.write("\n== Background work as tasks (database backend) beside calling it directly")
        self.stdout.write(f"500 tasks: enqueue {enqueued * 1000:.1f} ms each, claim, run and record {claimed * 1000:.1f} ms each "
                          f"({ran} found work to do); the same call made directly, as the worker did before tasks: "
                          f"{direct * 1000:.2f} ms")
