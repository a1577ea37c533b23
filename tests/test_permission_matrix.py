"""Every URL of the product, for every role and for an anonymous visitor: allowed, refused (403),
or sent to the login page. The table below is the answer a school gives when asked who can see
and do what."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.school import roles
from consent.models import Pupil
from moderation.aftercare import concerns, monitoring
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.publishing import services as publishing
from tests.conftest import Client, complete_channel, link_draft, make_user
from tests.test_pages import named_urls

ROLES = {"office": roles.OFFICE_STAFF, "approver": roles.APPROVER, "head": roles.HEADTEACHER, "dsl": roles.DSL,
         "register": roles.REGISTER_KEEPER}
EVERYONE = {"anonymous", *ROLES}
STAFF = set(ROLES)
LOG = {"head", "dsl"}
REGISTER = {"head", "register"}
DRAFTERS = {"office"}
DRAFT_READERS = {"office", "approver", "head", "dsl"}  # the author, approvers and the log's readers
APPROVERS = {"approver", "head"}
HEAD = {"head"}

# url name -> who may use it. Everyone else: 403 when signed in, the login page when anonymous.
MATRIX = {
    "login": EVERYONE, "health": EVERYONE, "mirror": EVERYONE, "mirror_feed": EVERYONE, "mirror_post": EVERYONE, "mirror_media": EVERYONE,
    "mirror_concern": EVERYONE,
    # Each school's news page at its own address: the same pages.
    "schools": EVERYONE, "school_mirror": EVERYONE, "school_mirror_feed": EVERYONE, "school_mirror_post": EVERYONE, "school_mirror_media": EVERYONE,
    "school_mirror_concern": EVERYONE,
    # Anyone signed in may ask to work in one of their schools (a school they have no role in is refused by name).
    "choose_school": STAFF,
    # The trust administrator's page: none of a school's roles reaches it (tests/school/test_isolation.py).
    "trust_schools": set(),
    "concerns_in_my_schools": LOG,
    # Open to anyone holding the current code; any other code answers 404, signed in or not.
    "families_enter": EVERYONE, "families": EVERYONE, "families_feed": EVERYONE, "families_post": EVERYONE,
    "families_media": EVERYONE, "families_concern": EVERYONE,
    "families_access": HEAD, "families_access_issue": HEAD, "school_details": HEAD,
    "logout": STAFF, "second_factor": STAFF, "home": STAFF, "aup": STAFF, "channels": STAFF, "channel": STAFF, "staff_concern": STAFF,
    "my_drafts": STAFF,  # each sees only their own drafts
    "new_draft": DRAFTERS,
    "draft": DRAFT_READERS, "draft_progress": DRAFT_READERS, "media_original": DRAFT_READERS, "published_media": DRAFT_READERS, "media_preview": DRAFT_READERS,
    "video_thumbnail": DRAFT_READERS, "track_view": DRAFT_READERS, "video_published": DRAFT_READERS, "video_frame": DRAFT_READERS,
    "video_frame_page": DRAFT_READERS, "track_mark": DRAFT_READERS, "track_unmark": DRAFT_READERS,
    "edit_draft": DRAFTERS, "add_media": DRAFTERS, "remove_media": DRAFTERS, "media_details": DRAFTERS, "submit_draft": DRAFTERS,
    "reopen_draft": DRAFTERS, "withdraw_draft": {"office", "head"}, "video_thumbnail_choose": DRAFTERS,
    "face_mark": DRAFT_READERS, "face_blur": DRAFT_READERS, "words_blur": DRAFT_READERS, "face_unmark": DRAFT_READERS,
    "track_blur": DRAFT_READERS,
    "face_identify": APPROVERS, "track_identify": APPROVERS, "language_judge": APPROVERS,
    "approve_draft": APPROVERS, "send_back_draft": APPROVERS, "queue": APPROVERS,
    "publish_draft": {"office", "approver", "head"},
    "new_channel": HEAD, "edit_channel": HEAD, "channel_risk_assessment": HEAD,
    "connection_check": HEAD, "connection_disconnect": HEAD, "connect_facebook": HEAD, "connect_youtube": HEAD,
    # Google's answer is taken only for a connection the headteacher started from this session.
    "connect_youtube_done": set(),
    "log": LOG, "log_csv": LOG, "log_entry": LOG, "audit": LOG, "audit_seal": LOG, "takedown": LOG, "reviews": LOG,
    "concerns": LOG, "concern": LOG, "concern_take_down": LOG, "concern_note": LOG, "concern_close": LOG, "concern_flood_close": LOG,
    "comment_dealt_with": LOG, "post_take_down": LOG,
    "post_set_thumbnail": HEAD,  # the log's readers who also publish
    "register": REGISTER, "register_import": REGISTER, "register_pupil": REGISTER, "register_pupil_change": REGISTER,
    "register_pupil_enrol": REGISTER,
}


@pytest.fixture
def world(db, settings, tmp_path):
    """One of everything, with the ids the URLs name."""
    import io

    from PIL import Image

    from moderation.upkeep import health

    health.beat()  # a worker is running, so /health/ answers 200
    users = {name: make_user(name, role) for name, role in ROLES.items()}
    for user in users.values():
        user.email = f"{user.username}@aycliffe.kent.sch.uk"
        user.save()
    channel = complete_channel(users["head"], authors=[users["office"]])
    youtube = complete_channel(users["head"], kind="youtube", authors=[users["office"]])
    published = link_draft(users["office"], channel)
    drafting.submit(published, users["office"])
    approving.approve(published, users["approver"], dict(ATTESTATIONS))
    post = publishing.publish(published, users["approver"])
    (settings.OUTBOX_DIR / post.platform_post_id / "comments.json").write_text('[{"id": "1", "author": "A", "text": "You are all liars."}]')
    [comment] = monitoring.read_comments()
    concern = concerns.report(post, kind="other", details="Worried about this post.")
    draft = link_draft(users["office"], channel, link="https://www.aycliffe.kent.sch.uk/news/fair")
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(photo, "JPEG")
    media = drafting.add_media(draft, users["office"], SimpleUploadedFile("fair.jpg", photo.getvalue()), source="Mrs Patel", rights="school")
    drafting.submit(draft, users["office"])
    pupil = Pupil.objects.create(upn="A123456789012", legal_forename="Ava", legal_surname="Smith")
    ids = {"school": channel.school.slug, "pk": draft.pk, "media_id": media.pk, "upn": pupil.upn, "position": 0, "face_id": 0, "words_id": 0, "track_id": 0, "item_id": 0, "ms": 500}
    by_name = {"mirror_post": post.pk, "mirror_media": post.pk, "mirror_concern": post.pk, "school_mirror_post": post.pk,
               "school_mirror_media": post.pk, "school_mirror_concern": post.pk, "log_entry": post.pk, "staff_concern": post.pk,
               "post_take_down": post.pk, "post_set_thumbnail": post.pk, "concern": concern.pk, "concern_take_down": concern.pk, "concern_note": concern.pk,
               "concern_close": concern.pk, "comment_dealt_with": comment.pk, "channel": channel.pk, "edit_channel": channel.pk,
               "channel_risk_assessment": channel.pk, "connection_check": channel.pk, "connection_disconnect": channel.pk,
               "connect_facebook": channel.pk, "connect_youtube": youtube.pk}
    return users, ids, by_name


def address(name, route, ids, by_name):
    def value(match):
        key = match.group(2)
        if key == "pk" and name in by_name:
            return str(by_name[name])
        return str(ids.get(key, 1))

    return re.sub(r"<(\w+:)?(\w+)>", value, route)


def outcome(response) -> str:
    if response.status_code == 302 and "/login/" in response["Location"]:
        return "login"
    if response.status_code == 403:
        return "refused"
    if response.status_code == 405:
        return "other method"  # a form's target, asked with GET: the POST below is what counts
    assert response.status_code < 500, response.status_code
    return "allowed"


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_every_url_answers_each_role_as_the_matrix_says(world, who):
    users, ids, by_name = world
    browser = Client()
    if who != "anonymous":
        browser.force_login(users[who])
    seen, wrong = set(), []
    for method in ("get", "post"):
        for name, route in named_urls():
            if name in ("logout", "login") and method == "post":
                continue  # logging in and out is not a permission
            seen.add(name)
            url = address(name, route, ids, by_name)
            got = outcome(getattr(browser, method)(url))
            expected = "allowed" if who in MATRIX[name] else ("login" if who == "anonymous" else "refused")
            if got == "other method" or (got == "allowed" and expected == "allowed"):
                continue
            if got != expected:
                wrong.append(f"{method.upper()} {url} ({name}): {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)
    assert seen == set(MATRIX), "every URL must have a row in the matrix: " + ", ".join(sorted(seen ^ set(MATRIX)))
