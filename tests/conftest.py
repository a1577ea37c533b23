import copy
import datetime
import hashlib
import os
import tempfile
from pathlib import Path

import django.test
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model

from config.school import files, roles
from config.school.tenancy import first_school, in_school
from connectors.models import Channel
from moderation.accounts import services as accounts
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.demo.sample import complete_channel
from moderation.drafts import services as drafting
from moderation.models import RiskAssessment

PASSWORD = "correct-horse-battery-staple"
# An empty STATIC_ROOT for the whole run (WhiteNoise warns when there is none).
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="static-root-"))


def on_disk(folder, file_mode=0o600) -> dict:
    """A storage of the school's files in a folder, as settings.py makes it without a bucket."""
    return files.storage_settings(folder, "", file_mode)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, settings):
    """Each test writes uploads, published copies and the outbox under its own folder."""
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.PUBLISHED_DIR = tmp_path / "published"
    settings.PREVIEW_DIR = tmp_path / "copies"
    settings.WORK_DIR = tmp_path / "work"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    # Each test has its own key for the face encodings (none is read from disk).
    settings.FACE_KEY = Fernet.generate_key().decode()
    # A fast hasher: the suite creates many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Uploads are analysed at once, in the request, unless a test asks for the worker
    # (tests/drafts/test_analysis.py).
    settings.MEDIA_ANALYSIS = "inline"
    # A video's published copy is made by the worker: a test that needs it says so
    # (video_copies.run_pending), rather than every decision making one.
    settings.MEDIA_COPIES = "background"
    # Production's hashed static names need `collectstatic` first: tests/test_production_settings.py
    # does that against a real server; the other tests use the files as they are.
    settings.STORAGES = {
        **settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "uploads": on_disk(settings.UPLOAD_DIR), "copies": on_disk(settings.PREVIEW_DIR),
        "published": on_disk(settings.PUBLISHED_DIR, 0o640),
    }
    settings.STATIC_ROOT = STATIC_ROOT  # outside the test's own folder, which some tests count
    return tmp_path


class Client(django.test.Client):
    """The test client, signed in as the person would be after giving their second factor.

    Tests of the second factor itself use django.test.Client, which leaves it out."""

    def force_login(self, user, backend=None):
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from moderation.accounts.middleware import needs_second_factor

        super().force_login(user, backend or "config.school.backends.SchoolRolesBackend")
        if needs_second_factor(user):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
                user=user, name="Test phone", confirmed=True
            )
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()


@pytest.fixture
def client():
    return Client()


@pytest.fixture(autouse=True)
def in_the_school(request):
    """A test that reaches the database works as the office of a single school's installation
    does: in the scope of its one school (made by the first migrate). Tests of several schools
    enter other scopes themselves (tests/school/test_isolation.py)."""
    if not touches_the_database(request.node):
        yield None
        return
    request.getfixturevalue("db")
    school = first_school()
    with in_school(school):
        yield school


@pytest.fixture
def school(in_the_school):
    return in_the_school


def make_user(username, role, first="", last="", accept_aup=True, school=None):
    user = get_user_model().objects.create_user(username, password=PASSWORD, first_name=first or username.title(), last_name=last)
    school = school or first_school()
    roles.give_role(user, school, role)
    if accept_aup:
        with in_school(school):
            accounts.accept_aup(user)
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def office(db):
    return make_user("office", roles.OFFICE_STAFF, "Sam", "Patel")


@pytest.fixture
def approver(db):
    return make_user("approver", roles.APPROVER, "Jo", "Okafor")


@pytest.fixture
def head(db):
    return make_user("head", roles.HEADTEACHER, "Jacky", "Cox")


@pytest.fixture
def dsl(db):
    return make_user("dsl", roles.DSL, "Priya", "Shah")


@pytest.fixture
def register_keeper(db):
    return make_user("register", roles.REGISTER_KEEPER, "Chris", "Evans")


@pytest.fixture
def facebook(head, office):
    return complete_channel(head, authors=[office])


@pytest.fixture
def youtube(head, office):
    return complete_channel(head, kind=Channel.Kind.YOUTUBE, authors=[office])


def results_by_gate(run):
    """A gate run's results, by gate id."""
    return {r.gate_id: r for r in run.results.all()}


def link_draft(author, channel, **overrides):
    fields = {
        "link": "https://www.aycliffe.kent.sch.uk/news/autumn-newsletter",
        "objective": "community",
        "intended_outcome": "Families find the autumn newsletter.",
        **overrides,
    }
    return drafting.create_draft(author, channel, **fields)


@pytest.fixture
def approved_draft(office, approver, facebook):
    draft = link_draft(office, facebook)
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    draft.refresh_from_db()
    return draft


def age_risk_assessment(channel, days):
    """Move a channel's risk assessment into the past (a direct update: the model has no other way)."""
    RiskAssessment.objects.filter(channel=channel).update(
        approved_at=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    )


# Fixtures through which a test reaches the database (pytest-django's, and what builds on them).
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def touches_the_database(item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL run (DATABASE_URL set) leaves out the tests that never reach a database:
    their pixels, files and words are the same whichever database is configured, and the SQLite run
    has just run them. ONLY_DATABASE_TESTS=0 runs them again anyway."""
    if not os.environ.get("DATABASE_URL") or os.environ.get("ONLY_DATABASE_TESTS") == "0":
        return
    kept, left = [], []
    for item in items:
        (kept if touches_the_database(item) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


# --- The face detector and the word reader, run once for each picture the suite shows them --------
# YuNet is deterministic: the same pixels, scale and settings give the same candidates. The suite
# analyses the same shared clip and photos in many tests (each test its own draft), so a frame
# already searched is not searched again: everything after detection (following faces, matching,
# reading words, blurring, the second detector) runs for real in every test.
_DETECTED: dict = {}
_DETECTION_SETTINGS = ("FACE_CONFIRM_PX", "FACE_CONFIRM_SCORE", "FACE_MIN_HEIGHT", "FACE_MIN_SCORE", "FACE_SURE_SCORE",
                       "FACE_TILE", "FACE_TILE_OVERLAP", "FACE_TURNED_MEGAPIXELS")


def _remembering(detect):
    def detect_candidates(image, base_scale=None, min_score=None, bgr=None):
        from pixels import detection

        digest = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
        key = (digest, image.size, image.mode, base_scale, min_score, tuple(detection.setting(n) for n in _DETECTION_SETTINGS))
        if key not in _DETECTED:
            _DETECTED[key] = tuple(detect(image, base_scale, min_score, bgr))
        return list(_DETECTED[key])

    detect_candidates.remembers = True
    return detect_candidates


# The same for reading words (RapidOCR is deterministic too): a picture already read is not read again.
_READ: dict = {}


def _remembering_words(read):
    def remembered(image):
        rgb = image.convert("RGB")
        key = (hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest(), rgb.size)
        if key not in _READ:
            _READ[key] = tuple(copy.deepcopy(read(rgb)))
        return copy.deepcopy(list(_READ[key]))

    remembered.remembers = True
    return remembered


# And every other model run through onnxruntime (RetinaFace confirming faces and as the second
# detector): the same inputs give the same outputs. At most _RUNS_KEPT answers are kept. YuNet's
# runs are not kept here (its pictures are large; detect_candidates above keeps its answers).
_RUNS: dict = {}
_RUNS_KEPT = 3000
_SESSIONS: dict = {}


def _remembering_runs(run):
    def remembered(session, output_names, input_feed, run_options=None):
        import numpy as np

        from pixels import detection

        if session is detection._yunet_session:
            return run(session, output_names, input_feed, run_options)

        # A session is known by its id, and kept alive here so that no later session takes its id.
        _SESSIONS.setdefault(id(session), session)
        key = (id(session), tuple(output_names or ()), tuple(
            (name, value.shape, str(value.dtype), hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16).digest())
            for name, value in sorted(input_feed.items())
        ))
        if key not in _RUNS:
            if len(_RUNS) >= _RUNS_KEPT:
                _RUNS.pop(next(iter(_RUNS)))
            _RUNS[key] = run(session, output_names, input_feed, run_options)
        return [output.copy() if hasattr(output, "copy") else output for output in _RUNS[key]]

    remembered.remembers = True
    return remembered


@pytest.fixture(autouse=True, scope="session")
def detector_remembers_what_it_has_seen():
    import onnxruntime

    from pixels import detection, ocr

    if not getattr(detection.detect_candidates, "remembers", False):
        detection.detect_candidates = _remembering(detection.detect_candidates)
    if not getattr(ocr.read, "remembers", False):
        ocr.read = _remembering_words(ocr.read)
    if not getattr(onnxruntime.InferenceSession.run, "remembers", False):
        onnxruntime.InferenceSession.run = _remembering_runs(onnxruntime.InferenceSession.run)
    yield
