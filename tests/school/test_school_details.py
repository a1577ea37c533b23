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


def test_the_headteacher_saves_the_schools_phone_numbers_and_the_change_is_audited(head, school):
    response = signed_in(head).post("/school/details/", FORM)
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.phones == ["01304 123456", "01304 654321"] and school.emails == ["office@aycliffe.kent.sch.uk"]
    entry = AuditEntry.objects.get(action="school.details_changed")
    assert entry.actor == head and "phone numbers" in entry.summary and "email addresses" in entry.summary


def test_a_post_giving_the_schools_own_phone_number_saved_on_the_page_passes_the_personal_data_check(head, office, facebook, school):
    signed_in(head).post("/school/details/", FORM)
    draft = link_draft(office, facebook, text="Questions? Ring the office on 01304 123456.")
    run = pipeline.run_gates(draft, GateRun.Phase.SUBMIT, office, only=("no-personal-data",))
    assert run.results.get(gate_id="no-personal-data").status == "pass"


def test_a_phone_number_that_is_none_is_refused_with_the_reason_and_nothing_changes(head, school):
    response = signed_in(head).post("/school/details/", {**FORM, "phones": "01304 123456, call us"})
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
        signed_in(other_head).post("/school/details/", {**FORM, "name": "Bramley Primary"})
    school.refresh_from_db(), other.refresh_from_db()
    assert school.name == "Aycliffe Community Primary School" and other.name == "Bramley Primary"


def test_a_detail_the_server_sets_is_shown_fixed_and_not_changed_on_the_page(head, school, monkeypatch):
    monkeypatch.setenv("SCHOOL_NAME", school.name)  # an installation of one school, configured by its server
    page = signed_in(head).get("/school/details/").content.decode()
    assert "Set on the server by SCHOOL_NAME" in page
    signed_in(head).post("/school/details/", {**FORM, "name": "Renamed on the page"})
    school.refresh_from_db()
    assert school.name != "Renamed on the page"


def test_an_email_domain_that_is_none_is_refused(head, school):
    with pytest.raises(ValidationError, match="not an email domain"):
        change_details(school, head, {"email_domains": ["aycliffe"]})
