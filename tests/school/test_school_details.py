"""A school's own details (name, domains, address, phones, emails, its Acceptable Use Policy),
kept up to date by its headteacher on its own page: each school's, on an installation of many."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from config.school import roles
from config.school.models import AuditEntry, School
from config.school.schools import change_details
from config.school.tenancy import in_school
from moderation.gates import pipeline
from moderation.models import GateRun
from tests.conftest import Client, link_draft, make_user

pytestmark = pytest.mark.django_db

FORM = {"name": "Aycliffe Community Primary School", "email_domains": "aycliffe.kent.sch.uk", "address": "",
        "phones": "01304 123456, 01304 654321", "emails": "office@aycliffe.kent.sch.uk", "aup_version": "2026-1",
        "aup_url": "", "risk_assessment_months": 12}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def posted(client, **changes):
    """The page's form, as shown, with these changes."""
    seen = client.get("/school/details/").context["form"].initial["seen"]
    return client.post("/school/details/", {**FORM, "seen": seen, **changes})


def test_the_headteacher_saves_the_schools_phone_numbers_and_the_change_is_audited(head, school):
    response = posted(signed_in(head))
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.phones == ["01304 123456", "01304 654321"] and school.emails == ["office@aycliffe.kent.sch.uk"]
    entry = AuditEntry.objects.get(action="school.details_changed")
    assert entry.actor == head and "phone numbers" in entry.summary and "email addresses" in entry.summary


def test_a_post_giving_the_schools_own_phone_number_saved_on_the_page_passes_the_personal_data_check(head, office, facebook, school):
    posted(signed_in(head))
    draft = link_draft(office, facebook, text="Questions? Ring the office on 01304 123456.")
    run = pipeline.run_gates(draft, GateRun.Phase.SUBMIT, office, only=("no-personal-data",))
    assert run.results.get(gate_id="no-personal-data").status == "pass"


def test_a_phone_number_that_is_none_is_refused_with_the_reason_and_nothing_changes(head, school):
    response = posted(signed_in(head), phones="01304 123456, call us")
    assert response.status_code == 200 and "&#x27;call us&#x27; is not a phone number." in response.content.decode()
    school.refresh_from_db()
    assert school.phones == [] and not AuditEntry.objects.filter(action="school.details_changed").exists()


def test_only_the_headteacher_changes_the_schools_details(office, approver, school):
    for person in (office, approver):
        assert signed_in(person).get("/school/details/").status_code == 403
        with pytest.raises(PermissionDenied):
            change_details(school, person, {"name": "Another name"})


def test_a_headteacher_changes_only_their_own_schools_details(head, school):
    other = School.objects.create(name="Bramley Primary School", slug="bramley")
    other_head = make_user("b-head", roles.HEADTEACHER, school=other)
    with pytest.raises(PermissionDenied):
        change_details(school, other_head, {"name": "Taken over"})
    with in_school(other):
        posted(signed_in(other_head), name="Bramley Primary")
    school.refresh_from_db(), other.refresh_from_db()
    assert school.name == "Aycliffe Community Primary School" and other.name == "Bramley Primary"


def test_a_detail_the_server_sets_is_shown_fixed_and_not_changed_on_the_page(head, school, monkeypatch):
    monkeypatch.setenv("SCHOOL_NAME", school.name)  # an installation of one school, configured by its server
    page = signed_in(head).get("/school/details/").content.decode()
    assert "Set on the server by SCHOOL_NAME" in page
    posted(signed_in(head), name="Renamed on the page")
    school.refresh_from_db()
    assert school.name != "Renamed on the page"


def test_an_email_domain_that_is_none_is_refused(head, school):
    with pytest.raises(ValidationError, match="not an email domain"):
        change_details(school, head, {"email_domains": ["aycliffe"]})


def test_a_page_opened_before_another_change_saves_nothing_and_says_why(head, school):
    page = signed_in(head).get("/school/details/")
    seen = page.context["form"].initial["seen"]
    change_details(school, head, {"phones": ["01304 123456"]})  # another headteacher, meanwhile
    response = signed_in(head).post("/school/details/", {**FORM, "phones": "", "seen": seen})
    assert response.status_code == 200 and "changed since this page was opened" in response.content.decode()
    school.refresh_from_db()
    assert school.phones == ["01304 123456"]


def test_a_page_opened_for_one_school_saves_nothing_into_the_school_chosen_since(head, school):
    other = School.objects.create(name="Bramley Primary School", slug="bramley")
    roles.give_role(head, other, roles.HEADTEACHER)  # a headteacher of two schools
    client = signed_in(head)
    seen = client.get("/school/details/").context["form"].initial["seen"]  # Aycliffe's page
    client.get(f"/?school={other.pk}")  # Bramley chosen in another tab
    response = client.post("/school/details/", {**FORM, "name": "Aycliffe Primary", "seen": seen})
    assert "opened for another school" in response.content.decode()
    other.refresh_from_db(), school.refresh_from_db()
    assert other.name == "Bramley Primary School" and school.name == "Aycliffe Community Primary School"


def test_the_audit_trail_keeps_what_each_detail_was_and_became(head, school):
    change_details(school, head, {"email_domains": ["aycliffe.kent.sch.uk", "gmail.com"]})
    entry = AuditEntry.objects.get(action="school.details_changed")
    assert entry.data["before"] == {"email_domains": ["aycliffe.kent.sch.uk"]}
    assert entry.data["after"] == {"email_domains": ["aycliffe.kent.sch.uk", "gmail.com"]}


def test_an_address_typed_on_several_lines_is_kept_a_part_a_line(head, school):
    posted(signed_in(head), address="Aycliffe School\nDover\nCT17 9HJ")
    school.refresh_from_db()
    assert school.address == "Aycliffe School, Dover, CT17 9HJ"


def test_the_page_shows_each_detail_with_its_label_and_nothing_of_its_own_workings(head, school):
    page = signed_in(head).get("/school/details/").content.decode()
    assert ">The office&#x27;s phone numbers" in page and 'type="hidden" name="seen"' in page
    assert ">Seen<" not in page
