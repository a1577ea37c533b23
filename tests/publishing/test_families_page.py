"""The news page shows only what the channel shows: a private channel's posts are for families,
behind the headteacher's access code, and nowhere anyone else can reach."""

import io
from fractions import Fraction

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.school.models import AuditEntry
from connectors.models import Channel
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.publishing import families
from moderation.publishing import services as publishing
from tests.conftest import Client, link_draft

TITLE = "Year 2 nativity, for families"


def small_video() -> bytes:
    """Two seconds of a plain picture: a video with no faces, quick to analyse."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 40 + i * 5, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def publish_video(office, approver, channel, title=TITLE):
    draft = link_draft(office, channel, link="", title=title, text="Our nativity play.")
    drafting.add_media(draft, office, SimpleUploadedFile("nativity.mp4", small_video()), source="Mrs Patel, school camera",
                       rights="school", alt_text="The nativity play")
    run = drafting.submit(draft, office)
    assert run.passed, [(r.gate_id, r.message) for r in run.results.all() if r.status != "pass"]
    approving.approve(draft, approver, dict(ATTESTATIONS))
    return publishing.publish(draft, approver)


@pytest.fixture
def private_post(office, approver, youtube):
    assert youtube.youtube_privacy == Channel.Privacy.PRIVATE
    return publish_video(office, approver, youtube)


def public_urls(post):
    return [f"/mirror/{post.pk}/", f"/mirror/{post.pk}/media/0/", f"/mirror/{post.pk}/concern/"]


def families_urls(code, post):
    return [f"/families/{code}/", f"/families/{code}/{post.pk}/", f"/families/{code}/{post.pk}/media/0/",
            f"/families/{code}/feed/", f"/families/{code}/{post.pk}/concern/"]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_private_channels_post_is_nowhere_on_the_public_news_page_or_feed(private_post):
    anonymous = Client()
    assert private_post.for_families_only
    for url in public_urls(private_post):
        assert anonymous.get(url).status_code == 404, url
    assert TITLE.encode() not in body(anonymous.get("/mirror/"))
    assert TITLE.encode() not in body(anonymous.get("/mirror/feed/"))


def test_families_see_a_private_channels_post_with_the_current_link(private_post, head, settings):
    code = families.issue(head).code
    anonymous = Client()
    for url in families_urls(code, private_post):
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "private, no-store" and response["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response["X-Robots-Tag"]
    assert TITLE.encode() in body(anonymous.get(f"/families/{code}/"))
    assert TITLE.encode() in body(anonymous.get(f"/families/{code}/feed/"))
    published = settings.PUBLISHED_DIR / private_post.media.get().stored_name
    assert body(anonymous.get(f"/families/{code}/{private_post.pk}/media/0/")) == published.read_bytes()


def test_the_code_typed_in_any_case_and_spacing_opens_the_families_page(private_post, head):
    code = families.issue(head).code
    typed = code.lower().replace("-", " ")
    response = Client().post("/families/", {"code": typed})
    assert response.status_code == 302 and response["Location"] == f"/families/{code}/"


def test_a_wrong_code_is_told_to_ask_the_office_and_opens_nothing(private_post, head):
    families.issue(head)
    response = Client().post("/families/", {"code": "AAAA-BBBB-CCCC-DDDD"})
    assert response.status_code == 200 and b"Ask the school office" in response.content
    assert TITLE.encode() not in response.content


def test_a_new_code_ends_every_old_link_at_once(private_post, head):
    old = families.issue(head).code
    new = families.issue(head).code
    anonymous = Client()
    for url in families_urls(old, private_post):
        assert anonymous.get(url).status_code == 404, url
    for url in families_urls(new, private_post):
        assert anonymous.get(url).status_code == 200, url
    assert Client().post("/families/", {"code": old}).status_code == 200  # the form, again, not the page
    entry = AuditEntry.objects.filter(action="families.code_issued").order_by("-id").first()
    assert "every earlier link stopped working" in entry.summary and new not in entry.summary and old not in entry.summary


def test_before_a_code_is_issued_nobody_sees_the_families_page(private_post):
    for url in families_urls("ABCD-EFGH-JKMN-PQRS", private_post):
        assert Client().get(url).status_code == 404, url


def test_a_public_channels_posts_stay_on_the_news_page_and_off_the_families_page(office, approver, facebook, head):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    assert not post.for_families_only
    assert Client().get(f"/mirror/{post.pk}/").status_code == 200
    code = families.issue(head).code
    assert Client().get(f"/families/{code}/{post.pk}/").status_code == 404


def test_a_post_published_while_the_channel_was_private_stays_off_the_news_page_when_it_turns_public(private_post, youtube):
    youtube.youtube_privacy = Channel.Privacy.PUBLIC
    youtube.save()
    assert Client().get(f"/mirror/{private_post.pk}/").status_code == 404


def test_a_taken_down_post_leaves_the_families_page_at_once(private_post, head, dsl):
    from moderation.aftercare import concerns

    code = families.issue(head).code
    concerns.take_down(private_post, dsl, reason="A parent asked for it to be removed.")
    for url in families_urls(code, private_post)[1:3]:
        assert Client().get(url).status_code == 404, url


def test_only_the_headteacher_issues_the_families_code(office, head):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        families.issue(office)
    client = Client()
    client.force_login(head)
    response = client.post("/families-access/new/")
    assert response.status_code == 302
    page = client.get("/families-access/")
    assert families.current().code.encode() in page.content
