"""python manage.py loadtest  (`make loadtest`; not part of `make test`)

The product under gunicorn on 127.0.0.1, on a throwaway PostgreSQL database holding 10,000 drafts
awaiting approval: 20 staff at once for 60 seconds, bounded in requests and time. 15 office staff
look at their drafts, write a new one and submit it (every gate runs); 5 approvers, signed in with
their second factor, page through the approval queue and open drafts. Each takes about a second
between clicks (`--think`; 0 clicks as fast as the server answers, to find the saturation point). Prints requests per second,
the 95th percentile of response times (overall and for the queue page) and the errors.

Every address it sends to is on this machine. A small threaded client rather than a load-testing
framework: it has to sign in with the product's CSRF tokens and TOTP codes, and print exactly the
figures above.
"""

import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import timedelta

import requests
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import setup_databases, teardown_databases
from django.utils import timezone

from config.school import roles
from config.school.commands import ThrowawaySchoolCommand
from moderation.accounts import services as accounts
from moderation.demo.sample import complete_channel
from moderation.models import Draft

PASSWORD = "load-test-password-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def p95(values):
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values, default=0)


class Command(ThrowawaySchoolCommand):
    help = "Load-test the product under gunicorn with PostgreSQL (20 staff for 60 s, 10,000 drafts)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=20)
        parser.add_argument("--seconds", type=int, default=60)
        parser.add_argument("--drafts", type=int, default=10_000)
        parser.add_argument("--max-requests", type=int, default=50_000)
        parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
        parser.add_argument("--think", type=float, default=1.0,
                            help="seconds a person takes between clicks, on average (0: click as fast as the server answers)")

    def handle(self, *args, users, seconds, drafts, max_requests, workers, think, **options):
        self.think = think
        if connection.vendor != "postgresql":
            raise CommandError("The load test runs on PostgreSQL: set DATABASE_URL (make loadtest finds the local server).")
        import logging

        logging.disable(logging.WARNING)
        state = setup_databases(verbosity=0, interactive=False)
        try:
            with tempfile.TemporaryDirectory() as data_dir, self.in_the_school():
                accounts = self.seed(users, drafts)
                self.run(accounts, seconds, max_requests, workers, data_dir, drafts)
        finally:
            teardown_databases(state, verbosity=0)

    # --- the school ---

    def seed(self, users, drafts):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password
        from django_otp.plugins.otp_totp.models import TOTPDevice

        User = get_user_model()
        approvers = max(1, users // 4)
        head = User.objects.create(username="load-head", password=make_password(PASSWORD))
        roles.give_role(head, self.school, roles.HEADTEACHER)
        head = User.objects.get(pk=head.pk)
        hashed = make_password(PASSWORD)
        office = [User.objects.create(username=f"office{n}", password=hashed) for n in range(users - approvers)]
        checkers = [User.objects.create(username=f"approver{n}", password=hashed) for n in range(approvers)]
        for user in office:
            roles.give_role(user, self.school, roles.OFFICE_STAFF)
        for user in checkers:
            roles.give_role(user, self.school, roles.APPROVER)
        for user in [head, *office, *checkers]:
            accounts.accept_aup(user)
        channel = complete_channel(head, authors=office)
        now = timezone.now()
        Draft.objects.bulk_create(
            (Draft(school=channel.school, channel=channel, author=office[n % len(office)], status=Draft.Status.AWAITING_APPROVAL,
                   link=f"https://www.aycliffe.kent.sch.uk/news/{n}", objective="community",
                   intended_outcome="Families read the school's news.", updated_at=now - timedelta(minutes=n))
             for n in range(drafts)),
            batch_size=2000,
        )
        devices = {u.username: TOTPDevice.objects.create(user=u, name="Load test", confirmed=True) for u in checkers}
        return {"office": [u.username for u in office], "approvers": [u.username for u in checkers], "devices": devices, "channel": channel.pk}

    # --- the load ---

    def run(self, accounts, seconds, max_requests, workers, data_dir, drafts):
        db = connection.settings_dict
        port = free_port()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": data_dir,
               "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}",
               "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "FACE_ENCRYPTION_KEY": settings.FACE_KEY or "", "MEDIA_ANALYSIS": "inline",
               "LOG_LEVEL": "WARNING", "AXES_FAILURE_LIMIT": "1000"}
        env.pop("DJANGO_DEBUG", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--preload", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--timeout", "60", "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    requests.get(base + "/login/", timeout=2)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            else:
                raise CommandError("gunicorn did not start.")
            self.stdout.write(f"gunicorn: {workers} workers on {base}; {drafts:,} drafts awaiting approval; "
                              f"{len(accounts['office']) + len(accounts['approvers'])} staff for {seconds} s, "
                              f"{self.think:g} s between clicks on average")
            self.load(base, accounts, seconds, max_requests)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def load(self, base, accounts, seconds, max_requests):
        from django_otp.oath import TOTP

        timings, errors, lock = defaultdict(list), [], threading.Lock()
        budget = [max_requests]
        # Signing in is not measured: the clock starts when every virtual person is signed in.
        clock = {"deadline": float("inf")}
        signed_in = threading.Semaphore(0)
        ready = threading.Event()

        def call(session, kind, method, url, **kwargs):
            with lock:
                if budget[0] <= 0 or time.monotonic() > clock["deadline"]:
                    raise TimeoutError
                budget[0] -= 1
            start = time.perf_counter()
            try:
                response = session.request(method, base + url, timeout=30, allow_redirects=False, **kwargs)
            except requests.RequestException as error:
                with lock:
                    errors.append(f"{kind}: {error.__class__.__name__}")
                return None
            elapsed = time.perf_counter() - start
            with lock:
                timings[kind].append(elapsed)
                if response.status_code >= 400:
                    errors.append(f"{kind}: HTTP {response.status_code}")
            if self.think:
                time.sleep(random.uniform(0.5, 1.5) * self.think)  # a person reads the page before the next click
            return response

        def token(session, url):
            page = session.get(base + url, timeout=30).text
            return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

        def sign_in(session, username):
            session.post(base + "/login/", {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token(session, "/login/")},
                         timeout=30)
            device = accounts["devices"].get(username)
            if device is not None:
                code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
                session.post(base + "/account/second-factor/", {"code": f"{code:06d}", "csrfmiddlewaretoken": token(session, "/account/second-factor/")},
                             timeout=30)
            signed_in.release()

        def office_staff(username):
            session = requests.Session()
            sign_in(session, username)
            ready.wait()
            number = 0
            try:
                while True:
                    call(session, "my drafts", "GET", "/drafts/")
                    form = call(session, "new draft form", "GET", "/drafts/new/")
                    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1) if form is not None else ""
                    number += 1
                    made = call(session, "save a draft", "POST", "/drafts/new/", data={
                        "csrfmiddlewaretoken": csrf, "channel": accounts["channel"], "link": f"https://www.aycliffe.kent.sch.uk/load/{username}/{number}",
                        "objective": "community", "intended_outcome": "Families read the school's news.", "text": "A reminder about the fair on Friday.",
                    })
                    if made is None or made.status_code != 302:
                        continue
                    draft_url = made.headers["Location"]
                    call(session, "draft page", "GET", draft_url)
                    call(session, "submit", "POST", draft_url + "submit/", data={"csrfmiddlewaretoken": csrf})
            except TimeoutError:
                return

        def approver(username):
            session = requests.Session()
            sign_in(session, username)
            ready.wait()
            try:
                while True:
                    page = call(session, "queue page", "GET", f"/queue/?page={random.randint(1, 200)}")
                    if page is not None:
                        found = re.findall(r'href="(/drafts/\d+/)"', page.text)
                        if found:
                            call(session, "draft page", "GET", random.choice(found))
            except TimeoutError:
                return

        threads = [threading.Thread(target=office_staff, args=(u,)) for u in accounts["office"]]
        threads += [threading.Thread(target=approver, args=(u,)) for u in accounts["approvers"]]
        for thread in threads:
            thread.start()
        for _ in threads:
            if not signed_in.acquire(timeout=120):
                raise CommandError("Not every virtual person could sign in within two minutes.")
        start = time.monotonic()
        with lock:
            clock["deadline"] = start + seconds
        ready.set()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        elapsed = time.monotonic() - start
        everything = [t for values in timings.values() for t in values]
        self.stdout.write(f"\nrequests: {len(everything):,} in {elapsed:.1f} s = {len(everything) / elapsed:.1f} requests per second")
        self.stdout.write(f"p95 latency, all requests: {p95(everything) * 1000:.0f} ms (median {statistics.median(everything) * 1000:.0f} ms)")
        for kind in sorted(timings):
            values = timings[kind]
            self.stdout.write(f"  {kind:<15} {len(values):>6,} requests, p95 {p95(values) * 1000:6.0f} ms, median {statistics.median(values) * 1000:5.0f} ms")
        queue = timings.get("queue page", [])
        self.stdout.write(f"errors: {len(errors)}" + (f" ({', '.join(sorted(set(errors))[:5])})" if errors else ""))
        verdict = "met" if not errors and queue and p95(queue) < 0.3 else "NOT met"
        self.stdout.write(f"target (no errors, queue page p95 under 300 ms): {verdict}")
