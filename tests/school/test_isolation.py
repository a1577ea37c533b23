"""Many schools on one installation: nothing of school B ever reaches anyone of school A.

School A is the installation's first school, with the suite's usual people and channels. School
B has its own headteacher, office, channel, draft with a photo, published post, concern, pupil,
families' code and audit trail, each carrying words that must never appear on A's pages.
"""

import contextvars
import re

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django_scopes import ScopeError

from config.school import audit, crypto, roles
from config.school.models import AuditEntry, AuditSeal, School
from config.school.scoping import OutsideAnySchool
from config.school.tenancy import in_school, nowhere, scopes_disabled
from connectors.models import Channel
from consent.models import Pupil
from moderation.accounts import second_factor
from moderation.aftercare import concerns
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.demo.sample import complete_channel
from moderation.drafts import services as drafting
from moderation.models import Concern, Draft, MediaFile, PublishedPost
from moderation.publishing import families
from moderation.publishing import services as publishing
from moderation.upkeep import worker
from tests.conftest import Client, link_draft, make_user
from tests.drafts.test_analysis import png
from tests.gates.test_image_consent import TESTDATA, pupil, with_photo

SECRET = "Bravo-only words"  # in B's draft, post, concern, pupil and channel


@pytest.fixture
def school_b(db):
    return School.objects.create(name="Bramley Primary School", slug="bramley", email_domains=["aycliffe.kent.sch.uk"])


@pytest.fixture
def world_b(school_b, tmp_path):
    """School B's people and data, made in B's scope as B's own staff would make them."""
    people = {
        "head": make_user("b-head", roles.HEADTEACHER, school=school_b),
        "office": make_user("b-office", roles.OFFICE_STAFF, school=school_b),
        "approver": make_user("b-approver", roles.APPROVER, school=school_b),
        "dsl": make_user("b-dsl", roles.DSL, school=school_b),
    }
    with in_school(school_b):
        channel = complete_channel(people["head"], name=f"Bramley Facebook {SECRET}", authors=[people["office"]])
        draft = link_draft(people["office"], channel, text=f"Sports day at Bramley. {SECRET}")
        media = drafting.add_media(draft, people["office"], SimpleUploadedFile("field.png", png()),
                                   source="Mrs Hall", rights="school", alt_text="The field")
        published = link_draft(people["office"], channel, text=f"Harvest festival. {SECRET}")
        assert drafting.submit(published, people["office"]).passed
        approving.approve(published, people["approver"], dict(ATTESTATIONS))
        post = publishing.publish(Draft.objects.get(pk=published.pk), people["approver"])
        concern = concerns.report(post, by=None, kind=Concern.Kind.OTHER, details=f"Please look. {SECRET}",
                                  sender_address="198.51.100.7")
        pupil = Pupil.objects.create(upn="B100000000009", legal_forename="Zebedee", legal_surname=f"Quartermain {SECRET}")
        access = families.issue(people["head"])
    return {"school": school_b, "people": people, "channel": channel, "draft": draft, "media": media,
            "post": post, "concern": concern, "pupil": pupil, "code": access.code}


def b_state(world):
    """Everything of B's that a request from A could change."""
    with in_school(world["school"]):
        return {
            "drafts": sorted(Draft.objects.values_list("pk", "status", "text")),
            "media": sorted(MediaFile.objects.values_list("pk", "alt_text", "analysis")),
            "posts": sorted(PublishedPost.objects.values_list("pk", "taken_down_at")),
            "concerns": sorted(Concern.objects.values_list("pk", "status")),
            "channels": sorted(Channel.objects.values_list("pk", "name", "active")),
            "pupils": sorted(Pupil.objects.values_list("pk", "legal_surname", "erased_at")),
            "audit": AuditEntry.objects.count(),
        }


# --- The cross-school permission matrix -----------------------------------------------------------

def every_route(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from every_route(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry.name, prefix + str(entry.pattern), entry.default_args


# Public by design, for anyone: a school's news page (its posts are public on the platform anyway)
# and the login. The families' pages open with the code alone, which is the secret: they are
# checked below with A's code against B's posts.
PUBLIC = {"login", "schools", "mirror", "mirror_feed", "mirror_post", "mirror_media", "mirror_concern",
          "school_mirror", "school_mirror_feed", "school_mirror_post", "school_mirror_media", "school_mirror_concern",
          "families_enter", "health", "logout"}


def b_address(route: str, world) -> str | None:
    """The route with school B's object ids in it."""
    def value(name):
        if name == "pk":
            if route.startswith(("log/", "mirror/")):
                return world["post"].pk
            if route.startswith("concerns/"):
                return world["concern"].pk
            if route.startswith("channels/"):
                return world["channel"].pk
            if route.startswith("comments/"):
                return world["post"].pk
            return world["draft"].pk
        return {"media_id": world["media"].pk, "item_id": 1, "face_id": 1, "track_id": 1, "words_id": 1,
                "position": 0, "ms": 0, "upn": world["pupil"].upn, "code": world["code"]}.get(name, 1)

    def fill(match):
        return str(value(match.group(2)))
    path = re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
    return "/" + path.replace("^", "").replace("$", "")


def a_people(office, approver, head, dsl, register_keeper):
    return {"office": office, "approver": approver, "head": head, "dsl": dsl, "register keeper": register_keeper}


def test_no_page_of_school_a_shows_or_changes_anything_of_school_b_for_any_role(
        world_b, office, approver, head, dsl, register_keeper, facebook):
    before = b_state(world_b)
    secret_words = [SECRET, "Zebedee", "Bramley", world_b["code"]]
    checked, leaks = 0, []
    for role, user in a_people(office, approver, head, dsl, register_keeper).items():
        client = Client()
        client.force_login(user)
        for name, route, defaults in every_route():
            if name in PUBLIC or route.startswith(("families/<", "schools/")):
                continue
            address = b_address(route, world_b)
            for method in ("get", "post"):
                response = getattr(client, method)(address)
                checked += 1
                body = b"".join(response.streaming_content) if response.streaming else response.content
                text = body.decode("utf-8", "replace")
                shown = [w for w in secret_words if w in text]
                if shown:
                    leaks.append(f"{role} {method.upper()} {address}: {response.status_code}, shows {shown}")
    assert not leaks, "\n".join(leaks)
    assert checked > 400
    assert b_state(world_b) == before  # nothing of B's was changed, not even an audit entry added


def test_school_as_own_pages_still_open_for_school_a_so_the_matrix_is_not_empty(world_b, office, facebook, client):
    draft = link_draft(office, facebook, text="Our own draft")
    client.force_login(office)
    assert client.get(f"/drafts/{draft.pk}/").status_code == 200
    assert client.get(f"/drafts/{world_b['draft'].pk}/").status_code == 404


def test_school_bs_staff_see_their_own_draft_and_nothing_of_school_a(world_b, office, facebook):
    draft_a = link_draft(office, facebook, text="Aycliffe-only words")
    client = Client()
    client.force_login(world_b["people"]["office"])
    assert SECRET in client.get(f"/drafts/{world_b['draft'].pk}/").content.decode()
    assert client.get(f"/drafts/{draft_a.pk}/").status_code == 404
    assert "Aycliffe-only words" not in client.get("/drafts/").content.decode()


def test_the_families_code_of_one_school_opens_only_that_schools_page(world_b, head, client):
    with in_school(School.objects.order_by("pk").first()):
        code_a = families.issue(head).code
    assert client.get(f"/families/{world_b['code']}/").status_code == 200
    page_a = client.get(f"/families/{code_a}/").content.decode()
    assert SECRET not in page_a and "Bramley" not in page_a


def test_each_school_has_its_own_news_page(world_b, client):
    page_b = client.get("/schools/bramley/news/").content.decode()
    assert "Harvest festival" in page_b
    first = School.objects.order_by("pk").first()
    assert "Harvest festival" not in client.get(f"/schools/{first.slug}/news/").content.decode()
    # Several schools: /schools/ lists their pages rather than mixing their posts.
    listing = client.get("/schools/").content.decode()
    assert "/schools/bramley/news/" in listing and "Harvest festival" not in listing
    assert client.get(f"/schools/bramley/news/{world_b['post'].pk}/").status_code == 200
    assert client.get(f"/schools/{first.slug}/news/{world_b['post'].pk}/").status_code == 404


def test_the_log_filter_names_only_the_schools_own_people(world_b, head, client):
    client.force_login(head)
    page = client.get("/log/").content.decode()
    assert "b-office" not in page and "B-Office" not in page


# --- Face matching: each school's register is its own ---------------------------------------------

@pytest.mark.skipif(not TESTDATA.exists(), reason="../shared/testdata is not beside the project")
def test_a_pupil_enrolled_in_school_b_is_not_recognised_in_school_a(world_b, office, facebook):
    with in_school(world_b["school"]):
        enrolled_in_b = pupil("obama")
        draft_b = link_draft(world_b["people"]["office"], world_b["channel"])
        media_b = with_photo(draft_b, world_b["people"]["office"], "obama_small.jpg")
        drafting.submit(draft_b, world_b["people"]["office"])
        [face_b] = media_b.faces.all()
        face_b.refresh_from_db()
        assert face_b.auto_pupil_id == enrolled_in_b.pk  # B's register knows the face
    draft_a = link_draft(office, facebook)
    media_a = with_photo(draft_a, office, "obama_small.jpg")
    run = drafting.submit(draft_a, office)
    [face_a] = media_a.faces.all()
    face_a.refresh_from_db()
    assert face_a.auto_pupil_id is None and face_a.auto_status != "consented"
    assert run.results.get(gate_id="image-consent").status != "pass"


# --- Scoping fails closed -------------------------------------------------------------------------

def test_a_query_of_a_schools_data_outside_any_school_raises(db):
    def outside():
        with pytest.raises(ScopeError):
            list(Draft.objects.all())
    contextvars.Context().run(outside)


def test_a_visitor_who_is_not_signed_in_sees_no_schools_data(world_b):
    with nowhere():
        assert not Draft.objects.exists() and not Pupil.objects.exists()


def test_nothing_of_a_school_is_written_without_a_school(db, head):
    with nowhere():
        with pytest.raises(OutsideAnySchool):
            Pupil.objects.create(upn="A999", legal_forename="No", legal_surname="School")


def test_a_draft_cannot_belong_to_one_school_and_use_anothers_channel(world_b, office, facebook):
    with pytest.raises(OutsideAnySchool):
        Draft.objects.create(school=world_b["school"], channel=facebook, author=office)


# --- Roles are held in one school -----------------------------------------------------------------

def test_a_headteacher_of_school_b_has_no_permission_in_school_a(world_b):
    head_b = world_b["people"]["head"]
    assert head_b.has_perm("connectors.approve_channel", world_b["school"])
    assert not head_b.has_perm("connectors.approve_channel", School.objects.order_by("pk").first())


def test_each_schools_audit_trail_is_a_chain_of_its_own(world_b, approved_draft):
    for school in School.objects.all():
        with in_school(school):
            checked, broken = audit.verify()
            assert broken is None and checked > 0
    with in_school(world_b["school"]):
        assert not AuditEntry.objects.filter(draft=approved_draft).exists()


def test_a_trust_dsl_sees_the_concerns_of_each_of_their_schools_together_labelled(world_b, approved_draft, approver, dsl, client):
    post = publishing.publish(approved_draft, approver)
    roles.give_role(dsl, world_b["school"], roles.DSL)
    concerns.report(post, by=None, kind=Concern.Kind.OTHER, details="About our own post", sender_address="198.51.100.8")
    client.force_login(dsl)
    page = client.get("/trust/concerns/").content.decode()
    assert "Bramley Primary School" in page and School.objects.order_by("pk").first().name in page
    assert page.count('name="next" value="/concerns/') == 2
    # Their own school's page still shows only that school's concerns.
    assert SECRET not in client.get("/concerns/").content.decode()


def test_a_person_with_roles_in_two_schools_works_in_one_at_a_time(world_b, dsl, client):
    roles.give_role(dsl, world_b["school"], roles.DSL)
    client.force_login(dsl)
    response = client.post("/school/choose/", {"school": world_b["school"].pk, "next": f"/concerns/{world_b['concern'].pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/concerns/{world_b['concern'].pk}/"
    assert SECRET in client.get(f"/concerns/{world_b['concern'].pk}/").content.decode()


def test_nobody_can_choose_a_school_they_have_no_role_in(world_b, office, client):
    client.force_login(office)
    client.post("/school/choose/", {"school": world_b["school"].pk})
    assert client.get(f"/drafts/{world_b['draft'].pk}/").status_code == 404


def test_the_workers_seal_round_seals_each_schools_trail_in_its_own_scope(world_b, approved_draft):
    with scopes_disabled():
        sealed = worker.seal_round.call()
    assert len(sealed) == 2
    for school in School.objects.all():
        with in_school(school):
            seal = AuditSeal.objects.get()
            assert audit.check_seal(seal.entry_id, seal.entry_hash) is None


def test_each_school_encrypts_with_a_key_of_its_own(world_b):
    with in_school(world_b["school"]):
        token = crypto.encrypt_encoding(np.zeros(crypto.ENCODING_LENGTH))
        assert crypto.decrypt_encoding(token).shape == (crypto.ENCODING_LENGTH,)
    with pytest.raises(crypto.FaceKeyError):
        crypto.decrypt_encoding(token)  # in school A's scope


def test_the_first_school_still_reads_what_was_encrypted_before_there_were_several(world_b):
    with scopes_disabled():
        token = crypto.encrypt_encoding(np.ones(crypto.ENCODING_LENGTH))  # the installation's own key, as before
    assert crypto.decrypt_encoding(token)[0] == 1.0
    with in_school(world_b["school"]), pytest.raises(crypto.FaceKeyError):
        crypto.decrypt_encoding(token)


# --- What a review found -----------------------------------------------------------------------

def test_a_flood_of_reports_in_one_school_does_not_silence_anothers(world_b, approved_draft, approver, head, dsl, settings, mailoutbox):
    settings.CONCERNS_FLOOD_PER_HOUR = 1
    for user in (head, dsl, world_b["people"]["head"], world_b["people"]["dsl"]):
        user.email = f"{user.username}@example.org"
        user.save()
    post_a = publishing.publish(approved_draft, approver)
    for n in range(3):
        with in_school(world_b["school"]):
            concerns.report(world_b["post"], kind=Concern.Kind.OTHER, details="Flood", sender_address=f"198.51.100.{n}")
        concerns.report(post_a, kind=Concern.Kind.OTHER, details="Flood", sender_address=f"203.0.113.{n}")
    floods = [m for m in mailoutbox if "A flood of reports" in m.subject]
    assert sorted(m.subject.split("]")[0] for m in floods) == ["[Aycliffe Community Primary School", "[Bramley Primary School"]


def test_a_schools_role_put_among_a_persons_groups_by_hand_counts_nowhere(db, office):
    stray = make_user("stray", roles.OFFICE_STAFF)
    stray.memberships.all().delete()
    stray.groups.add(Group.objects.get(name=roles.APPROVER))
    stray = get_user_model().objects.get(pk=stray.pk)
    assert not stray.has_perm("moderation.approve_draft")


def test_a_second_factor_is_reset_only_by_the_school_the_person_works_in(world_b, office):
    with in_school(world_b["school"]), pytest.raises(PermissionDenied):
        second_factor.reset(office, world_b["people"]["head"])
    with pytest.raises(CommandError, match="holds no role in this school"):
        call_command("reset_second_factor", "office", "--school", "bramley")


def test_the_first_schools_old_news_addresses_lead_to_its_own_once_there_are_several(world_b, approved_draft, approver, client):
    post_a = publishing.publish(approved_draft, approver)
    first = School.objects.order_by("pk").first()
    response = client.get(f"/mirror/{post_a.pk}/")
    assert response.status_code == 301 and response["Location"] == f"/schools/{first.slug}/news/{post_a.pk}/"
    assert client.get("/mirror/feed/")["Location"] == f"/schools/{first.slug}/news/feed/"
    assert client.get("/mirror/")["Location"] == f"/schools/{first.slug}/news/"
    assert "/schools/bramley/news/" in client.get("/schools/").content.decode()


def test_an_old_news_address_says_nothing_of_a_post_that_is_not_on_a_news_page(world_b, approved_draft, approver, client):
    post_a = publishing.publish(approved_draft, approver)
    PublishedPost.objects.filter(pk=post_a.pk).update(for_families_only=True)
    assert client.get(f"/mirror/{post_a.pk}/").status_code == 404


def test_a_link_from_an_email_opens_in_the_school_it_is_about(world_b, dsl, client):
    roles.give_role(dsl, world_b["school"], roles.DSL)
    client.force_login(dsl)
    page = client.get(f"/concerns/{world_b['concern'].pk}/?school={world_b['school'].pk}")
    assert page.status_code == 200 and SECRET in page.content.decode()


def test_someone_with_no_school_is_refused_a_schools_page_with_a_message(db, client):
    admin = make_user("trust", roles.OFFICE_STAFF, accept_aup=False)
    admin.memberships.all().delete()
    client.force_login(admin)
    assert client.get("/aup/").status_code == 403
