"""Signing in: failed logins are locked out (django-axes); the headteacher, the DSL, approvers and
the register keeper give a second factor (TOTP, django-otp) before they reach any page."""

import datetime
import re

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.school.models import AuditEntry
from tests.conftest import PASSWORD


def sign_in(browser, username, password=PASSWORD):
    return browser.post("/login/", {"username": username, "password": password})


def code_for(device, moment=None):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if moment is not None:
        totp.time = moment.timestamp()
    return f"{totp.token():06d}"


def test_five_failed_logins_lock_the_account_even_with_the_right_password(office):
    browser = Client()
    for _ in range(4):
        assert sign_in(browser, "office", "wrong password").status_code == 200
    assert sign_in(browser, "office", "wrong password").status_code == 429  # the fifth failure locks it
    locked = sign_in(browser, "office")
    assert locked.status_code == 429 and "Too many attempts" in locked.content.decode()
    assert "_auth_user_id" not in browser.session


def test_a_lockout_also_holds_against_another_computer(office):
    for n in range(5):
        sign_in(Client(REMOTE_ADDR=f"198.51.100.{n}"), "office", "guess")
    assert sign_in(Client(REMOTE_ADDR="203.0.113.50"), "office").status_code == 429


def test_a_lockout_ends_after_its_cool_off(office):
    start = datetime.datetime.now(datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(5):
            sign_in(Client(), "office", "guess")
        assert sign_in(Client(), "office").status_code == 429
        clock.move_to(start + datetime.timedelta(minutes=31))
        assert sign_in(Client(), "office").status_code == 302


def test_office_staff_sign_in_with_their_password_alone(office):
    browser = Client()
    assert sign_in(browser, "office")["Location"] == "/"
    assert browser.get("/").status_code == 200


@pytest.mark.parametrize("username_role", ["head", "dsl", "approver", "register_keeper"])
def test_leadership_approvers_and_the_register_keeper_give_a_second_factor_before_any_page(username_role, request):
    user = request.getfixturevalue(username_role)
    browser = Client()
    assert sign_in(browser, user.username)["Location"] == "/"
    for page in ("/", "/register/", "/queue/", "/log/", "/concerns/"):
        response = browser.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/account/second-factor/"), page
    assert browser.get("/mirror/").status_code == 200  # the news page is everyone's


def test_a_second_factor_is_set_up_with_a_qr_code_and_then_opens_the_register(head):
    browser = Client()
    sign_in(browser, "head")
    page = browser.get("/account/second-factor/?next=/register/").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page and "Set up your second factor" in page
    key = re.search(r"<code>([A-Z2-7 ]+)</code>", page).group(1)
    device = TOTPDevice.objects.get(user=head, confirmed=False)
    assert key.replace(" ", "") in __import__("base64").b32encode(device.bin_key).decode()
    wrong = browser.post("/account/second-factor/", {"code": "000000", "next": "/register/"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the wrong code above is not what this test is about
    device.throttling_failure_timestamp = None
    device.save()
    right = browser.post("/account/second-factor/", {"code": code_for(device), "next": "/register/"})
    assert right.status_code == 302 and right["Location"] == "/register/"
    assert TOTPDevice.objects.get(user=head).confirmed
    assert browser.get("/register/").status_code == 200
    assert AuditEntry.objects.filter(action="account.second_factor_set_up", actor=head).exists()


def test_a_code_is_accepted_only_once(head):
    device = TOTPDevice.objects.create(user=head, name="Phone", confirmed=True)
    code = code_for(device)
    first = Client()
    sign_in(first, "head")
    assert first.post("/account/second-factor/", {"code": code})["Location"] == "/"
    second = Client()
    sign_in(second, "head")
    assert second.post("/account/second-factor/", {"code": code}).status_code == 400


def test_wrong_codes_are_slowed_down(head):
    device = TOTPDevice.objects.create(user=head, name="Phone", confirmed=True)
    browser = Client()
    sign_in(browser, "head")
    for _ in range(3):
        browser.post("/account/second-factor/", {"code": "123456"})
    refused = browser.post("/account/second-factor/", {"code": code_for(device)})
    assert refused.status_code == 400 and "Too many wrong codes" in refused.content.decode()


def test_the_next_address_cannot_send_someone_to_another_site(head):
    device = TOTPDevice.objects.create(user=head, name="Phone", confirmed=True)
    browser = Client()
    sign_in(browser, "head")
    response = browser.post("/account/second-factor/", {"code": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_lost_phone_is_reset_and_the_reset_is_in_the_audit_trail(head, capsys):
    TOTPDevice.objects.create(user=head, name="Phone", confirmed=True)
    call_command("reset_second_factor", "head")
    assert not TOTPDevice.objects.filter(user=head).exists()
    assert AuditEntry.objects.filter(action="account.second_factor_reset").exists()


def test_the_demo_code_command_refuses_outside_the_demo(head, settings):
    TOTPDevice.objects.create(user=head, name="Phone", confirmed=True)
    settings.DEBUG = False
    with pytest.raises(CommandError, match="demo only"):
        call_command("second_factor_code", "head")


def test_behind_a_trusted_proxy_failed_logins_lock_the_guesser_not_everyone_behind_the_proxy(office, approver, settings):
    settings.TRUSTED_PROXIES = ("10.0.0.0/8",)
    guesser = Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.66")
    for n in range(5):  # five different usernames: locked by the guesser's own address
        sign_in(guesser, f"someone{n}", "guess")
    assert sign_in(guesser, "office").status_code == 429
    colleague = Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.20")
    assert sign_in(colleague, "office").status_code == 302


def test_a_forwarded_address_from_anyone_but_a_trusted_proxy_is_ignored_by_the_lockout(office, settings):
    settings.TRUSTED_PROXIES = ()
    for n in range(5):
        sign_in(Client(REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"), f"someone{n}", "guess")
    assert sign_in(Client(REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR="203.0.113.99"), "office").status_code == 429
