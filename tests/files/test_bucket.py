"""The school's files in a bucket of S3-compatible object storage, for web servers and workers on
several machines: what one machine keeps, every other reads; nothing is kept outside the bucket
but a machine's working copies, which go; a bucket out of reach sends nothing and says why.

The bucket is moto's S3 server on 127.0.0.1, reached by django-storages through boto3 over real
HTTP. A "machine" is a working folder (WORK_DIR) of its own: switching it is a request served by
another web server, or a task run by another worker.
"""

import io
import json
import os
import time
import uuid
from datetime import timedelta

import boto3
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from PIL import Image

from config.school import files
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import analysis
from moderation.drafts import services as drafting
from moderation.drafts.media import MediaRejected
from moderation.models import Draft, MediaFile, PublishedPost
from moderation.publishing import services as publishing
from moderation.publishing import video_copies
from moderation.upkeep import backup, stray_files
from tests import processes
from tests.conftest import Client, link_draft
from tests.publishing.test_families_page import body, small_video
from tests.test_faults import photo_draft
from tests.upkeep.test_redis_queue import ON_REDIS, photo, redis_queue  # noqa: F401 (a fixture)

CREDENTIALS = {"access_key": "school-files", "secret_key": "not-a-secret"}
ASSEMBLY = "moderation/demo/assembly.jpg"  # the demo's assembly photo: two people, two faces


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def in_bucket(endpoint: str, bucket: str) -> dict:
    return {area: files.storage_settings(None, area, bucket=bucket, endpoint_url=endpoint, region="eu-west-2", **CREDENTIALS)
            for area in files.AREAS}


@pytest.fixture
def bucket(s3_server, settings, tmp_path):
    """A new private bucket holding the school's three kinds of file; returns a boto3 client of it."""
    name = f"school-files-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="eu-west-2",
                          aws_access_key_id=CREDENTIALS["access_key"], aws_secret_access_key=CREDENTIALS["secret_key"])
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    settings.STORAGES = {**settings.STORAGES, **in_bucket(s3_server, name)}
    machine(settings, tmp_path, "web-1")
    client.name = name
    return client


def machine(settings, tmp_path, name):
    """From now on, this test runs on another machine: its own working folder, nothing in it."""
    settings.WORK_DIR = tmp_path / name


def keys(client, prefix="") -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=client.name, Prefix=prefix).get("Contents", []))


def stored(client, key) -> bytes:
    return client.get_object(Bucket=client.name, Key=key)["Body"].read()


def local_files(tmp_path) -> list[str]:
    """Every file written outside the working folders: the local disk's storages must stay empty."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.is_file() and not p.relative_to(tmp_path).parts[0].startswith(("web-", "worker-")))


def noise_photo() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((320, 240), 80).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload(office, channel, draft=None):
    """A photo of the hall (no face) added to a new draft, or to this one."""
    return drafting.add_media(draft or link_draft(office, channel), office, SimpleUploadedFile("hall.jpg", noise_photo()),
                              source="Mrs Patel", rights="school")


def test_an_upload_is_kept_in_the_bucket_and_not_on_the_web_servers_disk(bucket, office, facebook, settings, tmp_path):
    photo = noise_photo()
    media = drafting.add_media(link_draft(office, facebook), office, SimpleUploadedFile("hall.jpg", photo),
                               source="Mrs Patel", rights="school")
    assert keys(bucket) == [f"uploads/{media.stored_name}"]
    assert stored(bucket, f"uploads/{media.stored_name}") == photo
    assert local_files(tmp_path) == []  # no uploads folder: only the working copy of the machine that received it


def test_a_worker_on_another_machine_analyses_an_upload_kept_in_the_bucket(bucket, office, facebook, settings, tmp_path):
    settings.MEDIA_ANALYSIS = "background"
    with open(ASSEMBLY, "rb") as handle:
        media = drafting.add_media(link_draft(office, facebook), office, SimpleUploadedFile("assembly.jpg", handle.read()),
                                   source="Mrs Patel", rights="school")
    machine(settings, tmp_path, "worker-1")
    assert analysis.run_pending() == 1
    media.refresh_from_db()
    assert media.analysis == "done" and media.faces.count() == 2, media.analysis_error
    # The worker read the photo from the bucket into its own working folder.
    assert (tmp_path / "worker-1" / "uploads" / media.stored_name).read_bytes() == stored(bucket, f"uploads/{media.stored_name}")


def test_a_post_published_by_a_worker_is_served_on_the_news_page_by_another_web_server(bucket, office, approver, facebook, settings, tmp_path):
    draft = photo_draft(office, approver, facebook)
    machine(settings, tmp_path, "worker-1")
    post = publishing.publish(draft, approver)
    [media] = post.media.all()
    assert keys(bucket) == [f"published/{media.stored_name}"]  # the original is gone: only the published copy is kept
    machine(settings, tmp_path, "web-2")
    response = Client().get(f"/mirror/{post.pk}/media/0/")
    assert response.status_code == 200 and body(response) == stored(bucket, f"published/{media.stored_name}")
    assert all(p.startswith("outbox/") for p in local_files(tmp_path))  # the outbox stands in for the platform


def test_the_files_in_the_bucket_are_private_and_encrypted_at_rest(bucket, office, facebook):
    media = upload(office, facebook)
    key = f"uploads/{media.stored_name}"
    grants = bucket.get_object_acl(Bucket=bucket.name, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"] and all(g["Grantee"]["Type"] == "CanonicalUser" for g in grants)
    assert bucket.head_object(Bucket=bucket.name, Key=key)["ServerSideEncryption"] == "AES256"


def test_a_video_copy_made_by_one_worker_is_the_file_another_worker_publishes(bucket, office, approver, youtube, settings, tmp_path):
    draft = link_draft(office, youtube, link="", title="Nativity", text="Our nativity play.")
    media = drafting.add_media(draft, office, SimpleUploadedFile("nativity.mp4", small_video()), source="Mrs Patel",
                               rights="school", alt_text="The nativity play")
    video_copies.request(media)
    machine(settings, tmp_path, "worker-1")
    assert video_copies.run_pending() == 1
    media.refresh_from_db()
    made = stored(bucket, f"copies/{media.copy_name}")
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    machine(settings, tmp_path, "worker-2")
    post = publishing.publish(draft, approver)
    assert stored(bucket, f"published/{post.media.get().stored_name}") == made
    assert keys(bucket, "copies/") == [] and keys(bucket, "uploads/") == []  # neither is kept once published


def test_removing_a_photo_deletes_it_from_the_bucket_and_from_this_machine(bucket, office, facebook, settings, tmp_path):
    draft = link_draft(office, facebook)
    media = upload(office, facebook, draft)
    working_copy = media.path
    assert working_copy.exists()
    drafting.remove_media(draft, office, media.pk)
    assert keys(bucket) == [] and not working_copy.exists()


def test_an_upload_when_the_bucket_does_not_answer_is_refused_saying_why_and_nothing_is_kept(office, facebook, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, **in_bucket("http://127.0.0.1:9", "nowhere")}  # nothing listens on port 9
    draft = link_draft(office, facebook)
    with pytest.raises(MediaRejected, match="'hall.jpg' could not be stored: the file storage did not take it"):
        upload(office, facebook, draft)
    assert not draft.media.exists() and [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_post_whose_published_copy_the_bucket_does_not_take_is_held_and_nothing_is_sent(bucket, office, approver, facebook, settings, tmp_path):
    draft = photo_draft(office, approver, facebook)
    settings.STORAGES = {**settings.STORAGES, "published": in_bucket("http://127.0.0.1:9", "nowhere")["published"]}
    with pytest.raises(publishing.PublishRefused, match="the published copies could not be stored"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and "Nothing was sent to the platform" in draft.status_note
    assert not PublishedPost.objects.exists() and not settings.OUTBOX_DIR.exists()
    assert keys(bucket, "uploads/") != []  # the upload is kept, to publish once the storage answers


def test_working_copies_unused_for_hours_are_deleted_from_the_machine(bucket, office, facebook, settings, tmp_path):
    settings.WORK_FILES_HOURS = 6
    draft = link_draft(office, facebook)
    old, recent = (drafting.add_media(draft, office, SimpleUploadedFile(f"{n}.jpg", noise_photo()), source="Mrs Patel", rights="school")
                   for n in ("old", "recent"))
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(old.path, (seven_hours_ago, seven_hours_ago))
    assert files.sweep_working_copies(force=True) == 1
    assert not (tmp_path / "web-1" / "uploads" / old.stored_name).exists() and recent.path.exists()
    assert old.path.read_bytes() == stored(bucket, f"uploads/{old.stored_name}")  # fetched again when needed


def test_the_health_page_says_when_the_file_storage_does_not_answer(db, settings):
    settings.STORAGES = {**settings.STORAGES, **in_bucket("http://127.0.0.1:9", "nowhere")}
    answer = Client().get("/health/")
    assert answer.status_code == 503 and "the file storage does not answer" in answer.json()["files"]["problem"]


@pytest.mark.django_db(transaction=True)  # on PostgreSQL, the backup reads in a transaction of its own
def test_a_backup_holds_the_files_kept_in_the_bucket(bucket, office, facebook, tmp_path):
    media = upload(office, facebook)
    folder = backup.backup(tmp_path / "backups")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert list(manifest["files"]) == [f"uploads/{media.stored_name}"]
    assert (folder / "files" / "uploads" / media.stored_name).read_bytes() == stored(bucket, f"uploads/{media.stored_name}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("redis_queue")
def test_workers_on_two_machines_analyse_the_uploads_kept_in_the_bucket_each_once(
        bucket, s3_server, office, facebook, settings, tmp_path):
    draft = link_draft(office, facebook)
    uploads = [drafting.add_media(draft, office, SimpleUploadedFile(f"field-{n}.jpg", photo((640, 480), noise=True)),
                                  source="Mrs Patel", rights="school") for n in range(8)]
    on_the_bucket = {"FILES_S3_BUCKET": bucket.name, "FILES_S3_ENDPOINT_URL": s3_server, "FILES_S3_REGION": "eu-west-2",
                     "AWS_ACCESS_KEY_ID": CREDENTIALS["access_key"], "AWS_SECRET_ACCESS_KEY": CREDENTIALS["secret_key"]}
    workers = [processes.start(tmp_path, "run_worker", **ON_REDIS, **on_the_bucket, WORK_DIR=str(tmp_path / f"worker-{n}"))
               for n in (1, 2)]
    try:
        processes.wait_for(lambda: not MediaFile.objects.exclude(analysis__in=("done", "failed")).exists(),
                           "every upload is analysed", tmp_path)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=60)
    by_worker = {}
    for media in MediaFile.objects.all():
        assert media.analysis == "done", (media.original_name, media.analysis_error, processes.logs(tmp_path))
        [n] = [n for n, w in enumerate(workers, 1) if media.analysis_worker.endswith(f":{w.pid}")]
        by_worker.setdefault(n, set()).add(media.stored_name)
    # Each machine fetched from the bucket the uploads it analysed, and only those.
    for n in (1, 2):
        folder = tmp_path / f"worker-{n}" / "uploads"
        assert ({p.name for p in folder.iterdir()} if folder.exists() else set()) == by_worker.get(n, set())
    assert sum(len(names) for names in by_worker.values()) == len(uploads)
    assert not (tmp_path / "uploads").exists()


def test_a_file_no_row_names_is_deleted_from_the_bucket_by_the_tidy_round_a_day_later(bucket, office, facebook):
    media = upload(office, facebook)
    files.store(files.UPLOADS, "left-behind", io.BytesIO(noise_photo()))  # its row was deleted while the bucket was away
    assert stray_files.delete_strays() == 0  # an upload in progress has its file before its row
    assert stray_files.delete_strays(timezone.now() + timedelta(days=2)) == 1
    assert keys(bucket) == [f"uploads/{media.stored_name}"]


def test_an_original_the_bucket_kept_after_its_draft_was_published_is_deleted_by_the_tidy_round(bucket, office, approver, facebook):
    draft = photo_draft(office, approver, facebook)
    media = draft.media.get()
    original = stored(bucket, f"uploads/{media.stored_name}")
    publishing.publish(draft, approver)
    files.store(files.UPLOADS, media.stored_name, io.BytesIO(original))  # as if the bucket had not answered the delete
    assert stray_files.delete_strays(timezone.now() + timedelta(days=2)) == 1
    assert keys(bucket, "uploads/") == []


def test_a_machines_working_copy_of_an_original_deleted_on_another_machine_is_not_read(bucket, office, facebook, settings, tmp_path):
    draft = link_draft(office, facebook)
    media = upload(office, facebook, draft)
    working_copy = media.path  # the web server that received it keeps a working copy
    machine(settings, tmp_path, "worker-1")
    files.remove(files.UPLOADS, media.stored_name)  # withdrawn, say, on another machine
    machine(settings, tmp_path, "web-1")
    with pytest.raises(FileNotFoundError):
        files.here(files.UPLOADS, media.stored_name)
    assert not working_copy.exists()
    client = Client()
    client.force_login(office)
    assert client.get(f"/drafts/{draft.pk}/media/{media.pk}/").status_code == 404


def test_working_copies_are_readable_by_their_owner_only(bucket, office, facebook, tmp_path):
    media = upload(office, facebook)
    assert media.path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "web-1").stat().st_mode & 0o777 == 0o700


@pytest.fixture
def queued_while_the_bucket_is_away(bucket, office, facebook, settings, tmp_path, monkeypatch):
    """A photo waiting for a worker on another machine, whose bucket stops answering."""
    settings.MEDIA_ANALYSIS = "background"
    monkeypatch.setattr(analysis, "STORAGE_BACK_OFF_SECONDS", 0)
    media = upload(office, facebook)
    machine(settings, tmp_path, "worker-1")
    settings.STORAGES = {**settings.STORAGES, **in_bucket("http://127.0.0.1:9", "nowhere")}
    return media


def test_a_photo_the_bucket_cannot_give_while_it_is_analysed_waits_in_the_queue_not_failed(queued_while_the_bucket_is_away):
    media = queued_while_the_bucket_is_away
    analysis.run_pending()
    media.refresh_from_db()
    assert media.analysis == MediaFile.Analysis.QUEUED and media.analysis_error == ""


def test_a_post_whose_originals_the_bucket_cannot_give_is_held_saying_nothing_needs_uploading_again(
        bucket, office, approver, facebook, settings, tmp_path):
    draft = photo_draft(office, approver, facebook)
    machine(settings, tmp_path, "worker-1")
    settings.STORAGES = {**settings.STORAGES, "uploads": in_bucket("http://127.0.0.1:9", "nowhere")["uploads"]}
    with pytest.raises(publishing.PublishRefused, match="nothing needs uploading again"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and not PublishedPost.objects.exists()


def test_a_photo_the_bucket_has_not_given_for_a_day_fails_saying_why(queued_while_the_bucket_is_away):
    media = queued_while_the_bucket_is_away
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        analysis.run_pending()
    media.refresh_from_db()
    assert media.analysis == MediaFile.Analysis.FAILED and "the file storage did not" in media.analysis_error


def test_a_photo_analysed_in_the_web_request_while_the_bucket_is_away_fails_at_once_saying_why(bucket, office, facebook, settings, tmp_path):
    media = upload(office, facebook)
    machine(settings, tmp_path, "web-2")
    settings.STORAGES = {**settings.STORAGES, **in_bucket("http://127.0.0.1:9", "nowhere")}
    analysis.queue(media)  # MEDIA_ANALYSIS=inline in the tests: no worker to try again
    media.refresh_from_db()
    assert media.analysis == MediaFile.Analysis.FAILED and "the file storage did not" in media.analysis_error
