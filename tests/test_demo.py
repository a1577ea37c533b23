from django.core.management import call_command

from config.school.models import AuditEntry
from connectors.models import Channel
from moderation.models import Draft, PublishedPost


def test_the_demo_school_is_created_once_and_never_duplicated(db, capsys):
    call_command("seed_demo")
    counts = (Channel.objects.count(), Draft.objects.count(), PublishedPost.objects.count(), AuditEntry.objects.count())
    call_command("seed_demo")
    assert (Channel.objects.count(), Draft.objects.count(), PublishedPost.objects.count(), AuditEntry.objects.count()) == counts
    out = capsys.readouterr().out
    for username in ("office", "approver", "approver2", "head", "dsl", "register"):
        assert f"  {username} " in out
    assert counts[2] == 1


def test_the_demo_has_one_user_for_each_role_and_a_second_approver(db):
    from django.contrib.auth import get_user_model

    from config.school import roles

    call_command("seed_demo")
    User = get_user_model()
    for role in roles.SCHOOL_ROLES:
        assert User.objects.filter(memberships__role__name=role).exists(), role
    assert User.objects.filter(memberships__role__name=roles.APPROVER).count() == 2


def test_the_demo_has_a_scheduled_post_and_a_comment_for_the_dsl(db):
    from moderation.aftercare import monitoring
    from moderation.publishing import scheduling

    call_command("seed_demo")
    assert scheduling.scheduled_drafts().count() == 1
    [raised] = monitoring.read_comments()
    assert "child" in {r["kind"] for r in raised.reasons}


def test_the_demo_prints_the_address_the_site_answers_on(db, capsys):
    call_command("seed_demo", "--address", "http://127.0.0.1:8123")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/ with any of these" in out and "http://127.0.0.1:8123/mirror/" in out
    assert ":8000" not in out
