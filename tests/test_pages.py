"""What each person sees: the log for the headteacher and DSL, the mirror for everyone."""

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.publishing import services as publishing
from tests.conftest import link_draft

PUBLIC = {"mirror", "mirror_feed", "mirror_post", "mirror_media", "mirror_concern", "login", "health",
          "schools", "school_mirror", "school_mirror_feed", "school_mirror_post", "school_mirror_media", "school_mirror_concern",
          # the families' page: the code form, and pages that open only with the current code (else 404)
          "families_enter", "families", "families_feed", "families_post", "families_media", "families_concern"}


def named_urls():
    for pattern in get_resolver().url_patterns:
        patterns = getattr(pattern, "url_patterns", [pattern])
        for p in patterns:
            if isinstance(p, URLPattern) and p.name:
                yield p.name, "/" + str(pattern.pattern if p is pattern else pattern.pattern) + ("" if p is pattern else str(p.pattern))


def concrete(route: str) -> str:
    import re

    return re.sub(r"<(int:)?\w+>", "1", re.sub(r"<str:\w+>", "A123456789012", route)).replace("//", "/")


@pytest.fixture
def published(approved_draft, approver):
    return publishing.publish(approved_draft, approver)


@pytest.mark.django_db
def test_an_anonymous_visitor_reaches_only_the_mirror_its_feed_the_families_page_and_the_login_page(client):
    from moderation.upkeep import health

    health.beat()  # a worker is running, so /health/ answers 200
    seen = set()
    for name, route in named_urls():
        seen.add(name)
        response = client.get(concrete(route))
        if name in PUBLIC:
            assert response.status_code in (200, 404), name
        else:
            assert response.status_code == 302 and "/login/" in response["Location"], (name, response.status_code)
    assert {"home", "log", "queue", "new_draft", "mirror"} <= seen


@pytest.mark.django_db
def test_a_browser_asking_any_page_for_favicon_ico_is_sent_to_the_sites_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/favicon.svg")


def test_the_mirror_shows_published_posts_and_nothing_else(client, published, office, facebook):
    waiting = link_draft(office, facebook, link="https://www.aycliffe.kent.sch.uk/not-yet")
    drafting.submit(waiting, office)
    page = client.get("/mirror/").content.decode()
    assert published.link in page
    assert "not-yet" not in page
    assert client.get(f"/mirror/{published.pk}/").status_code == 200


def test_the_mirror_feed_is_atom_with_every_published_post(client, published):
    response = client.get("/mirror/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    # Each post at its school's own address.
    assert entries[0].find("a:link", ns).get("href").endswith(f"/schools/{published.channel.school.slug}/news/{published.pk}/")


def test_the_headteacher_sees_who_published_and_approved_with_every_gate_result(client, head, published):
    client.force_login(head)
    page = client.get("/log/").content.decode()
    assert "Sam Patel" in page and "Jo Okafor" in page
    detail = client.get(f"/log/{published.pk}/").content.decode()
    for gate_id in ("official-channel", "second-colleague", "inclusive-mirror"):
        assert f'data-gate="{gate_id}"' in detail
    assert "read and agreed by at least one other colleague" in detail


def test_the_dsl_can_see_the_log(client, dsl, published):
    client.force_login(dsl)
    assert client.get("/log/").status_code == 200


@pytest.mark.parametrize("who", ["office", "approver", "register_keeper"])
def test_staff_outside_leadership_cannot_see_the_log(request, client, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/log/").status_code == 403
    assert client.get("/log/export.csv").status_code == 403


def test_the_log_is_filtered_by_channel_person_and_date(client, head, published, approver, office, youtube):
    client.force_login(head)
    assert published.link in client.get(f"/log/?channel={published.channel_id}").content.decode()
    assert published.link not in client.get(f"/log/?channel={youtube.pk}").content.decode()
    assert published.link in client.get(f"/log/?person={approver.pk}").content.decode()
    assert published.link not in client.get(f"/log/?person={head.pk}").content.decode()
    today = published.published_at.date().isoformat()
    assert published.link in client.get(f"/log/?published_from={today}&published_to={today}").content.decode()
    assert published.link not in client.get("/log/?published_to=2020-01-01").content.decode()


def test_the_log_exports_as_csv_with_the_gate_results_and_clauses(client, head, published):
    client.force_login(head)
    response = client.get("/log/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["approved_by"] == "Jo Okafor" and row["author"] == "Sam Patel"
    assert "second-colleague=pass" in row["gate_results"]
    assert "risk assessed" in row["gate_results"]


def test_a_csv_cell_cannot_smuggle_a_spreadsheet_formula(client, head, office, approver, facebook, monkeypatch):
    # Text is not publishable yet (its gates are not built), so write the published record directly.
    from moderation.models import PublishedPost

    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    PublishedPost.objects.filter(pk=post.pk).update(text="=HYPERLINK(\"http://evil\")")
    client.force_login(head)
    rows = list(csv.DictReader(io.StringIO(client.get("/log/export.csv").content.decode())))
    assert rows[0]["text"].startswith("'=")


def test_the_author_sees_each_gate_result_beside_the_draft_with_its_clause(client, office, facebook):
    draft = link_draft(office, facebook, intended_outcome="")
    drafting.submit(draft, office)
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert 'data-gate="clear-objective"' in page
    assert "clear educational or community engagement objectives" in page
    assert "Returned to the author" in page


def test_an_approver_sees_the_attestations_in_words_beside_the_draft(client, approver, office, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    client.force_login(approver)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    for _, words in ATTESTATIONS:
        assert words in page


def test_the_author_is_not_offered_the_review_form(client, office, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert 'action="/drafts/%d/approve/"' % draft.pk not in page


def test_an_author_without_the_current_aup_is_sent_to_accept_it(client, db, facebook):
    from config.school import roles
    from tests.conftest import make_user

    newcomer = make_user("newcomer", roles.OFFICE_STAFF, accept_aup=False)
    facebook.authors.add(newcomer)
    client.force_login(newcomer)
    response = client.get("/drafts/new/")
    assert response.status_code == 302 and response["Location"].startswith("/aup/")
    client.post("/aup/", {"accept": "yes", "next": "/drafts/new/"})
    assert client.get("/drafts/new/").status_code == 200


def test_a_blocked_channel_is_shown_with_what_to_do(client, office, facebook):
    from moderation.models import RiskAssessment

    RiskAssessment.objects.filter(channel=facebook).delete()
    client.force_login(office)
    page = client.get("/").content.decode()
    assert "is blocked" in page and "headteacher must record and approve" in page


def test_an_original_upload_is_not_served_to_an_unrelated_colleague(client, office, facebook, register_keeper, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    draft = link_draft(office, facebook)
    path = tmp_path / "p.png"
    Image.new("RGB", (20, 20)).save(path)
    media = drafting.add_media(draft, office, SimpleUploadedFile("p.png", path.read_bytes()), source="Staff", rights="school", alt_text="x")
    client.force_login(register_keeper)
    assert client.get(f"/drafts/{draft.pk}/media/{media.pk}/").status_code == 403
    client.force_login(office)
    response = client.get(f"/drafts/{draft.pk}/media/{media.pk}/")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"


def test_the_whole_flow_through_the_pages(client, office, approver, head, facebook):
    client.force_login(office)
    response = client.post("/drafts/new/", {
        "channel": facebook.pk, "link": "https://www.aycliffe.kent.sch.uk/news", "objective": "educational",
        "intended_outcome": "Parents see the Year 4 river project.",
    })
    draft_url = response["Location"]
    client.post(draft_url + "submit/")
    client.force_login(approver)
    import re

    [seen] = re.findall(r'name="seen_hash" value="(\w+)"', client.get(draft_url).content.decode())  # the page the approver read
    client.post(draft_url + "approve/", {f"attest_{key}": "on" for key, _ in ATTESTATIONS} | {"seen_hash": seen})
    client.post(draft_url + "publish/")
    client.force_login(head)
    assert "https://www.aycliffe.kent.sch.uk/news" in client.get("/log/").content.decode()
    client.logout()
    assert "https://www.aycliffe.kent.sch.uk/news" in client.get("/mirror/").content.decode()


def test_a_refusal_says_why(client, dsl, facebook):
    client.force_login(dsl)
    response = client.post(f"/channels/{facebook.pk}/risk-assessment/", {"summary": "ok", "confirm": "on"})
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_history_written_by_no_person_is_shown_as_the_system(client, office, facebook):
    from config.school.models import AuditEntry

    draft = link_draft(office, facebook)
    AuditEntry.objects.create(actor=None, action="draft.hold", draft=draft, summary="Held after a consent change")
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert "Held after a consent change" in page and "the system" in page


def test_a_bad_upload_on_the_draft_page_says_which_file_and_why_and_the_draft_stays(client, office, facebook):
    import html

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.bad_files import bomb_png

    draft = link_draft(office, facebook)
    client.force_login(office)
    response = client.post(
        f"/drafts/{draft.pk}/media/",
        {"file": SimpleUploadedFile("bomb.png", bomb_png()), "source": "Mrs Patel, school camera", "rights": "school", "alt_text": ""},
        follow=True,
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 200 and response.redirect_chain[-1][0] == f"/drafts/{draft.pk}/"
    assert "'bomb.png' declares far more pixels" in page and "decompression bomb" in page
    draft.refresh_from_db()
    assert draft.status == "draft" and not draft.media.exists()


def test_the_log_names_people_as_the_office_knows_them_and_marks_what_was_taken_down(client, head, published):
    from moderation.aftercare import concerns

    client.force_login(head)
    page = client.get("/log/").content.decode()
    assert '<option value="%d">Jo Okafor</option>' % published.approval.approver.pk in page
    assert "taken down" not in page
    concerns.take_down(published, head, "A parent asked for it to be removed.")
    assert "taken down" in client.get("/log/").content.decode()
    rows = list(csv.reader(io.StringIO(client.get("/log/export.csv").content.decode())))
    assert rows[0][-1] == "taken_down_at" and rows[1][-1].startswith(str(timezone.localdate().year))
