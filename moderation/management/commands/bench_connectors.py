"""python manage.py bench_connectors: the connectors' cost over real HTTP, against the emulators.

Measures, on this machine, with the real client libraries: a Facebook text post and a ten-photo
post (time and requests); what settling an unclear answer costs; a YouTube upload's throughput
with the journal written at every chunk, against the same upload through bare
google-api-python-client calls; and an upload interrupted at 60% and resumed (bytes sent again).

It runs in a throwaway database (like the tests): nothing is written to the product's own.
"""

import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from django.test import override_settings
from django.test.utils import setup_databases, teardown_databases

from config.school.commands import ThrowawaySchoolCommand
from connectors import services as connections
from connectors.base import Journal, OutgoingMedia, OutgoingPost, TryLater
from connectors.emulators.graph import GraphEmulator
from connectors.emulators.youtube import YouTubeEmulator
from connectors.facebook import FacebookConnector
from connectors.models import Channel, Delivery
from connectors.youtube import YouTubeConnector, client
from moderation.models import Draft


class Command(ThrowawaySchoolCommand):
    help = "Measure the Facebook and YouTube connectors against the local emulators."

    def add_arguments(self, parser):
        parser.add_argument("--video-mb", type=int, default=200, help="size of the test upload (default 200 MB)")

    def section(self, title):
        self.stdout.write("\n== " + title)

    def handle(self, *args, video_mb, **options):
        from cryptography.fernet import Fernet

        logging.disable(logging.WARNING)  # the connectors' own log lines would drown the figures
        state = setup_databases(verbosity=0, interactive=False)
        try:
            with tempfile.TemporaryDirectory() as folder, override_settings(FACE_KEY=Fernet.generate_key().decode()), self.in_the_school():
                self.facebook()
                self.youtube(Path(folder), video_mb)
        finally:
            teardown_databases(state, verbosity=0)

    # --- Facebook ---

    def facebook(self):
        with GraphEmulator() as graph, override_settings(FACEBOOK_GRAPH_URL=graph.url, CONNECTOR_TIMEOUT=30), tempfile.TemporaryDirectory() as folder:
            photos = []
            for index in range(10):
                path = Path(folder) / f"{index}.jpg"
                path.write_bytes(os.urandom(2 * 1024 * 1024))
                photos.append(OutgoingMedia("image", path, "image/jpeg", f"Photo {index + 1}"))

            def post(number, media=()):
                return OutgoingPost(draft_id=number, content_hash="x", channel_name="Page", channel_kind="facebook", account_id=graph.page_id,
                                    privacy="", text=f"Post number {number}", title="", link="", publish_at=None, media=tuple(media))

            connector = FacebookConnector(graph.page_id, "page-token", app_id=graph.app_id, user_token="user-token")
            self.section("Facebook Page (facebook-sdk over HTTP to the Graph emulator)")
            for label, media in (("text post", ()), ("ten 2 MB photos in one post", photos)):
                times, requests = [], []
                for run in range(5):
                    before = len(graph.received)
                    start = time.perf_counter()
                    connector.publish(post(run + (100 if media else 0), media), Journal())
                    times.append(time.perf_counter() - start)
                    requests.append(len(graph.received) - before)
                self.stdout.write(f"{label}: median {statistics.median(times) * 1000:.0f} ms, {requests[0]} request{'s' if requests[0] != 1 else ''}")
            times, extra = [], []
            for run in range(5):
                graph.fail("POST", r"/feed$", "act_then_error", status=500, body={"error": {"message": "An unknown error occurred", "code": 1}})
                before = len(graph.received)
                start = time.perf_counter()
                connector.publish(post(200 + run), Journal())
                times.append(time.perf_counter() - start)
                extra.append(len(graph.received) - before - 1)
            self.stdout.write(
                f"a 500 after Facebook published: settled by reading the Page in {statistics.median(times) * 1000:.0f} ms "
                f"({extra[0]} extra request{'s' if extra[0] != 1 else ''}); posts on the Page: {len(graph.posts())} for {5 * 2 + 5} publishes"
            )

    # --- YouTube ---

    def youtube(self, folder: Path, video_mb: int):
        from django.contrib.auth import get_user_model
        from googleapiclient.http import MediaFileUpload

        path = folder / "video.mp4"
        with open(path, "wb") as handle:
            for _ in range(video_mb):
                handle.write(os.urandom(1024 * 1024))
        size = path.stat().st_size
        chunk = 8 * 1024 * 1024
        with YouTubeEmulator() as api, override_settings(YOUTUBE_API_URL=api.url, GOOGLE_TOKEN_URI=api.token_uri, CONNECTOR_TIMEOUT=60,
                                                         YOUTUBE_UPLOAD_CHUNK_BYTES=chunk, YOUTUBE_DAILY_QUOTA=10**9):
            head = get_user_model().objects.create_user("bench-head")
            channel = Channel.objects.create(name="Bench YouTube", kind="youtube", connector="youtube")
            connection = connections.save_connection(channel, platform="youtube", account_id=api.channel_id, account_name="Bench",
                                                     credentials=api.authorized_user_info(), by=head)
            draft = Draft.objects.create(channel=channel, author=head)
            post = OutgoingPost(draft_id=draft.pk, content_hash="x", channel_name="Bench", channel_kind="youtube", account_id="", privacy="private",
                                text="", title="Bench", link="", publish_at=None, media=(OutgoingMedia("video", path, "video/mp4", ""),))
            self.section(f"YouTube upload of {video_mb} MB in {chunk // 2**20} MiB chunks (google-api-python-client over HTTP to the emulator)")

            def bare():
                creds = client.credentials(connection.credentials())
                service, _ = client.service(creds)
                request = service.videos().insert(part="snippet,status", body={"snippet": {"title": "Bench"}, "status": {"privacyStatus": "private"}},
                                                  media_body=MediaFileUpload(str(path), mimetype="video/mp4", chunksize=chunk, resumable=True))
                response = None
                while response is None:
                    _, response = request.next_chunk()

            def ours(number):
                delivery = Delivery.objects.create(draft=draft, content_hash=f"bench-{number}", connector="youtube", requested_by=head)
                YouTubeConnector(channel, connection).publish(post, delivery.journal())

            results = {}
            for label, run in (("bare client calls", lambda n: bare()), ("the connector, journal written at every chunk", ours)):
                times = []
                for number in range(3):
                    start = time.perf_counter()
                    run(number)
                    times.append(time.perf_counter() - start)
                results[label] = statistics.median(times)
                self.stdout.write(f"{label}: median {results[label]:.2f} s, {size / 2**20 / results[label]:.0f} MB/s")
            values = list(results.values())
            self.stdout.write(
                f"overhead of the journal, the quota count and the processing-status read: {values[1] - values[0]:+.2f} s an upload "
                f"({100 * (values[1] / values[0] - 1):+.0f}% at this loopback speed)"
            )

            api.interrupt_upload_at = int(size * 0.6)
            delivery = Delivery.objects.create(draft=draft, content_hash="bench-resume", connector="youtube", requested_by=head)
            received_before, videos_before = sum(len(r.body) for r in api.requests("PUT")), len(api.videos)
            start = time.perf_counter()
            try:
                YouTubeConnector(channel, connection).publish(post, delivery.journal())
            except TryLater as stopped:
                self.stdout.write(f"interrupted: {stopped}")
            delivery.refresh_from_db()
            YouTubeConnector(channel, connection).publish(post, delivery.journal())
            elapsed = time.perf_counter() - start
            sent = sum(len(r.body) for r in api.requests("PUT")) - received_before
            self.stdout.write(
                f"interrupted at 60% and resumed: YouTube received {sent / size:.3f}× the file's bytes in all, "
                f"{elapsed:.2f} s, videos made: {len(api.videos) - videos_before}"
            )
