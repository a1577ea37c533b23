"""Schools on one installation: adding one with its first headteacher, and the configuration of an
installation of one school by its SCHOOL_* variables."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from config.school import roles
from config.school.models import AuditEntry, School
from config.school.schools import follow_the_environment
from config.school.tenancy import in_school
from connectors.models import Channel
from consent.models import Pupil
from tests.conftest import make_user


def test_add_school_creates_an_empty_school_with_its_headteacher(db, monkeypatch):
    monkeypatch.setenv("HEADTEACHER_PASSWORD", "a-long-and-unusual-passphrase")
    call_command("add_school", "St Mary's Primary", "--head-username", "smith", "--head-email", "head@stmarys.example", "--no-input")
    school = School.objects.get(slug="st-marys-primary")
    with in_school(school):
        assert not Channel.objects.exists() and not Pupil.objects.exists()
        assert AuditEntry.objects.get().action == "school.added"
    assert roles.has_role(get_user_model().objects.get(username="smith"), roles.HEADTEACHER, school=school)


def test_add_school_refuses_a_taken_short_name_and_creates_nothing(db, monkeypatch):
    monkeypatch.setenv("HEADTEACHER_PASSWORD", "a-long-and-unusual-passphrase")
    taken = School.objects.order_by("pk").first().slug
    with pytest.raises(CommandError, match="already has the short name"):
        call_command("add_school", "Another", "--slug", taken, "--head-username", "x", "--head-email", "x@example.org", "--no-input")
    assert School.objects.count() == 1


def test_only_a_trust_administrator_reaches_the_schools_page(db, head, client):
    client.force_login(head)
    assert client.get("/trust/schools/").status_code == 403


def test_a_trust_administrator_adds_a_school_on_the_schools_page(db, client):
    admin = make_user("trust", roles.OFFICE_STAFF)
    admin.memberships.all().delete()
    admin.groups.add(Group.objects.get(name=roles.TRUST_ADMINISTRATOR))
    client.force_login(admin)
    assert "manage the schools" in client.get("/").content.decode()
    response = client.post("/trust/schools/", {
        "name": "Hollins Academy", "slug": "", "email_domains": "hollins.example", "head_first_name": "Ada",
        "head_last_name": "Hollins", "head_email": "head@hollins.example", "head_username": "ahollins",
        "head_password": "a-long-and-unusual-passphrase",
    })
    assert response.status_code == 302
    assert School.objects.filter(slug="hollins-academy", email_domains=["hollins.example"]).exists()


def test_the_school_variables_keep_configuring_an_installation_of_one_school(db, monkeypatch, settings, school):
    monkeypatch.setenv("SCHOOL_AUP_VERSION", "2027-1")
    settings.SCHOOL = type(settings.SCHOOL)(**{**settings.SCHOOL.__dict__, "aup_version": "2027-1"})
    assert follow_the_environment() == ["aup_version"]
    assert School.objects.get(pk=school.pk).aup_version == "2027-1"


def test_with_several_schools_the_variables_change_no_school(db, monkeypatch, settings, school):
    School.objects.create(name="Bramley Primary School", slug="bramley")
    monkeypatch.setenv("SCHOOL_NAME", "Renamed")
    settings.SCHOOL = type(settings.SCHOOL)(**{**settings.SCHOOL.__dict__, "name": "Renamed"})
    assert follow_the_environment() == []
    assert School.objects.get(pk=school.pk).name != "Renamed"
