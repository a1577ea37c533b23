"""Reports of concern and takedown (policy section 8)."""

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from config.school.models import AuditEntry
from moderation.aftercare import concerns
from moderation.approval import services as approving
from moderation.drafts import services as drafting
from moderation.models import Concern, ConcernNote
from moderation.publishing import services as publishing


def report_from_the_news_page(post, address="203.0.113.7", **fields):
    """A visitor without an account: reads the form (and its CSRF token), then sends it."""
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
    form = browser.get(f"/mirror/{post.pk}/concern/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    data = {"kind": "child_shown", "details": "My son is in the second photo and we did not agree to it.", **fields}
    return browser.post(f"/mirror/{post.pk}/concern/", {"csrfmiddlewaretoken": token, **data})


def test_anyone_may_report_a_concern_from_the_news_page_without_an_account_or_a_name(post, client):
    assert "Report a concern about this post" in client.get(f"/mirror/{post.pk}/").content.decode()
    response = report_from_the_news_page(post)
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    concern = Concern.objects.get()
    assert concern.source == Concern.Source.PUBLIC and concern.contact == "" and concern.reported_by is None
    assert "203.0.113.7" not in concern.sender_key  # only a keyed hash of the address is kept
    [message] = mail.outbox
    assert sorted(message.to) == ["dsl@aycliffe.kent.sch.uk", "head@aycliffe.kent.sch.uk"]
    assert AuditEntry.objects.get(action="concern.reported").draft == post.draft


def test_the_concern_form_refuses_a_report_without_its_csrf_token(post):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(f"/mirror/{post.pk}/concern/", {"kind": "other", "details": "Forged."})
    assert response.status_code == 403 and not Concern.objects.exists()


def test_the_concern_form_is_rate_limited_for_each_address(post, settings):
    settings.CONCERNS_PER_HOUR_PER_SENDER = 3
    for _ in range(3):
        assert report_from_the_news_page(post).status_code == 200
    refused = report_from_the_news_page(post)
    assert refused.status_code == 429 and "Too many reports" in refused.content.decode()
    assert report_from_the_news_page(post, address="198.51.100.9").status_code == 200
    assert Concern.objects.count() == 4


def test_a_genuine_report_is_never_refused_because_of_a_flood_from_other_addresses(post, settings, mailoutbox):
    settings.CONCERNS_FLOOD_PER_HOUR = 10
    for n in range(40):  # one person, forty addresses
        assert report_from_the_news_page(post, address=f"198.51.100.{n}").status_code == 200
    genuine = report_from_the_news_page(post, address="203.0.113.50", details="My daughter is in this photo and we did not consent.")
    assert genuine.status_code == 200
    assert Concern.objects.count() == 41
    assert Concern.objects.filter(in_flood=True).count() == 31
    # The first ten were told about one by one; the flood in one email, not thirty-one.
    subjects = [m.subject for m in mailoutbox]
    assert sum("A flood of reports" in s for s in subjects) == 1 and len(subjects) == 11


def test_the_dsl_sees_a_flood_together_and_closes_it_in_one_step_keeping_the_genuine_one(post, settings, dsl):
    settings.CONCERNS_FLOOD_PER_HOUR = 3
    for n in range(8):
        report_from_the_news_page(post, address=f"198.51.100.{n}", details="Spam spam spam.")
    report_from_the_news_page(post, address="203.0.113.50", details="My daughter is in this photo and we did not consent.")
    genuine = Concern.objects.get(details__startswith="My daughter")
    from tests.conftest import (
        Client as StaffClient,  # signs in with the second factor the DSL gives
    )

    browser = StaffClient()
    browser.force_login(dsl)
    page = browser.get("/concerns/").content.decode()
    assert "A flood of reports: 6 open" in page and "My daughter" in page
    browser.post("/concerns/flood/close/", {"outcome": "Closed: automated spam from many addresses.", "keep": [str(genuine.pk)]})
    assert Concern.objects.filter(status="open").count() == 4  # the three before the flood, and the genuine one
    assert Concern.objects.get(pk=genuine.pk).status == "open"
    assert AuditEntry.objects.get(action="concern.flood_closed").data["concerns"]


def test_an_empty_or_overlong_report_is_refused_with_a_message(post):
    response = report_from_the_news_page(post, details="   ")
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    with pytest.raises(ValidationError, match="under 5,000"):
        concerns.report(post, kind="other", details="x" * 5001)
    assert not Concern.objects.exists()


def test_a_staff_member_reports_a_concern_from_the_log(post, head, client):
    client.force_login(head)
    assert f"/log/{post.pk}/concern/" in client.get(f"/log/{post.pk}/").content.decode()
    response = client.post(f"/log/{post.pk}/concern/", {"kind": "personal_data", "details": "The caption names the class teacher's home street."})
    assert response.status_code == 302
    concern = Concern.objects.get()
    assert concern.source == Concern.Source.STAFF and concern.reported_by == head


def test_office_staff_may_report_a_concern_too(post, office, client):
    client.force_login(office)
    client.post(f"/log/{post.pk}/concern/", {"kind": "inappropriate", "details": "The wrong date is given for the fair."})
    assert Concern.objects.get().reported_by == office


def test_the_dsl_takes_a_post_down_and_it_leaves_the_platform_and_the_news_page(post, dsl, client, settings):
    concern = concerns.report(post, kind="child_shown", details="A pupil without consent is shown.")
    assert (settings.OUTBOX_DIR / post.platform_post_id).exists()
    client.force_login(dsl)
    response = client.post(f"/concerns/{concern.pk}/take-down/", {"takedown-text": "Shows a pupil without consent."})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.is_taken_down and post.removed_from_platform_at is not None and post.taken_down_by == dsl
    assert not (settings.OUTBOX_DIR / post.platform_post_id).exists()
    client.logout()
    assert client.get(f"/mirror/{post.pk}/").status_code == 404
    assert client.get(f"/mirror/{post.pk}/concern/").status_code == 404
    assert f"/mirror/{post.pk}/" not in client.get("/mirror/feed/").content.decode()
    assert ConcernNote.objects.get(concern=concern).text.startswith("Post taken down")


def test_a_takedown_needs_a_reason_in_words(post, head):
    with pytest.raises(ValidationError):
        concerns.take_down(post, head, "gone")
    post.refresh_from_db()
    assert not post.is_taken_down


def test_only_the_dsl_or_the_headteacher_can_take_a_post_down(post, office, approver, client):
    for user in (office, approver):
        with pytest.raises(PermissionDenied):
            concerns.take_down(post, user, "I do not like this post.")
        client.force_login(user)
        assert client.post(f"/log/{post.pk}/take-down/", {"takedown-text": "I do not like it."}).status_code == 403
        assert client.get("/concerns/").status_code == 403


def test_a_post_is_taken_down_once(post, head, dsl):
    concerns.take_down(post, head, "Parent withdrew consent by letter.")
    with pytest.raises(ValidationError, match="already"):
        concerns.take_down(post, dsl, "Parent withdrew consent by letter.")
    assert AuditEntry.objects.filter(action="post.taken_down").count() == 1


def test_the_report_takedown_and_follow_up_are_in_the_posts_whole_history(post, head, client):
    concern = concerns.report(post, kind="inappropriate", details="The headline makes fun of a child's name.")
    concerns.take_down(post, head, "Inappropriate headline, removed while we look into it.", concern)
    concerns.add_note(concern, head, "Spoke to the author; the family has had an apology.")
    concerns.close(concern, head, "Apology accepted; staff reminded of the policy.")
    with pytest.raises(ValidationError, match="already closed"):
        concerns.close(concern, head, "Closed a second time by mistake.")
    client.force_login(head)
    page = client.get(f"/log/{post.pk}/").content.decode()
    for words in ("concern about", "taken down", "follow-up recorded", "was closed", "confirmed that"):
        assert words in page.lower(), words
    # The words of the follow-up and the outcome are on the concern's page (the trail says they happened).
    assert "apology" in client.get(f"/concerns/{concern.pk}/").content.decode()



# --- Telling the DSL and the headteacher, whatever the post's text ---------------------------------


def test_a_report_about_a_post_with_a_line_break_near_its_start_is_sent_with_a_one_line_subject(client, dsl, head, office, approver, facebook, mailoutbox):
    from moderation.approval.attestations import ATTESTATIONS
    from tests.conftest import link_draft

    for user in (dsl, head):
        user.email = f"{user.username}@aycliffe.kent.sch.uk"
        user.save()
    draft = link_draft(office, facebook, text="Sports day!\nWell done everyone who ran, jumped and cheered.")
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    response = client.post(f"/mirror/{post.pk}/concern/", {"kind": "other", "details": "Please look at this post."})
    assert response.status_code == 200
    [concern] = Concern.objects.all()
    assert concern.told_at is not None
    [message] = mailoutbox
    assert "\n" not in message.subject and "Sports day! Well done" in message.subject


def test_a_report_whose_email_fails_is_kept_shown_to_the_dsl_and_sent_by_the_worker(client, dsl, office, approver, facebook, mailoutbox, monkeypatch):
    from config.school import notify
    from moderation.aftercare import concerns
    from moderation.approval.attestations import ATTESTATIONS
    from tests.conftest import link_draft

    dsl.email = "dsl@aycliffe.kent.sch.uk"
    dsl.save()
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)

    def mail_server_down(*args, **kwargs):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(notify, "send_mail", mail_server_down)
    response = client.post(f"/mirror/{post.pk}/concern/", {"kind": "other", "details": "Please look at this post."})
    assert response.status_code == 200  # the reporter is thanked: the report is kept
    [concern] = Concern.objects.all()
    assert concern.told_at is None and concern.telling_attempts == 1
    dsl_browser = type(client)()
    dsl_browser.force_login(dsl)
    assert b"email not sent yet" in dsl_browser.get("/concerns/").content
    monkeypatch.undo()
    assert concerns.tell_untold() == 1
    concern.refresh_from_db()
    assert concern.told_at is not None and len(mailoutbox) == 1
    assert concerns.tell_untold() == 0  # told once, never again



# --- Behind the school's reverse proxy -------------------------------------------------------------


def test_behind_a_trusted_proxy_each_client_is_limited_by_its_own_address(post, settings):
    settings.TRUSTED_PROXIES = ("10.0.0.0/8",)
    settings.CONCERNS_PER_HOUR_PER_SENDER = 2

    def via_proxy(client_address):
        browser = Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=f"{client_address}, 10.0.0.9")
        return browser.post(f"/mirror/{post.pk}/concern/", {"kind": "other", "details": "Please look at this post."})

    assert via_proxy("203.0.113.7").status_code == 200
    assert via_proxy("203.0.113.7").status_code == 200
    assert via_proxy("203.0.113.7").status_code == 429
    assert via_proxy("198.51.100.1").status_code == 200  # another family behind the same proxy


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(post, settings):
    settings.TRUSTED_PROXIES = ()
    settings.CONCERNS_PER_HOUR_PER_SENDER = 1

    def spoofed(claimed):
        browser = Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=claimed)
        return browser.post(f"/mirror/{post.pk}/concern/", {"kind": "other", "details": "Please look at this post."})

    assert spoofed("198.51.100.1").status_code == 200
    assert spoofed("198.51.100.2").status_code == 429  # a header anyone can write changes nothing


def test_the_client_address_rules(rf, settings):
    from moderation.aftercare.addresses import client_address

    settings.TRUSTED_PROXIES = ("127.0.0.1", "10.0.0.0/8")
    request = lambda remote, forwarded=None: rf.get("/", REMOTE_ADDR=remote, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}))  # noqa: E731
    assert client_address(request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"  # not from a proxy: header ignored
    assert client_address(request("127.0.0.1", "1.2.3.4, 203.0.113.7")) == "203.0.113.7"  # the rightmost untrusted
    assert client_address(request("127.0.0.1", "203.0.113.7, 10.1.2.3")) == "203.0.113.7"  # past a second proxy
    assert client_address(request("127.0.0.1")) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "not-an-address")) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "2001:db8::1")) == "2001:db8::1"


def test_the_log_shows_the_published_copy_and_still_does_after_a_takedown(office, approver, head, dsl, facebook, client):
    from connectors.conftest import approve, photo_draft

    post = publishing.publish(approve(photo_draft(office, facebook, photos=1), office, approver), approver)
    address = f"/drafts/{post.draft.pk}/published/0/"
    client.force_login(head)
    page = client.get(f"/log/{post.pk}/").content.decode()
    assert f'src="{address}"' in page and "Model river, part 1" in page
    concerns.take_down(post, head, "A parent asked for it to be removed.")
    for reader in (head, dsl):
        client.force_login(reader)
        page = client.get(f"/log/{post.pk}/").content.decode()
        assert f'src="{address}"' in page and "kept here for the headteacher and the DSL" in page
        answer = client.get(address)
        assert answer.status_code == 200 and answer["Content-Type"] == "image/jpeg"
    assert client.get(f"/mirror/{post.pk}/media/0/").status_code == 404  # nowhere else


def test_the_email_about_a_concern_links_to_its_page(post, settings):
    settings.SITE_ADDRESS = "https://social.aycliffe.kent.sch.uk"
    concern = concerns.report(post, kind="other", details="Worried about this post.")
    [message] = mail.outbox
    assert f"https://social.aycliffe.kent.sch.uk/concerns/{concern.pk}/" in message.body


def test_without_the_sites_address_an_email_still_names_the_page(post, settings):
    settings.SITE_ADDRESS = ""
    concern = concerns.report(post, kind="other", details="Worried about this post.")
    [message] = mail.outbox
    assert f"/concerns/{concern.pk}/ (on the product's site; SITE_ADDRESS gives its full address)" in message.body
