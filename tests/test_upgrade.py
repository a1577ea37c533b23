"""An installation upgraded from the schema before models moved between apps keeps every row:
the moves change only Django's record of which app holds a model, never the tables."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from config.school import audit, notify, wall
from config.school.models import GENESIS_HASH, AuditEntry, School, audit_hash
from config.school.tenancy import in_school, scopes_disabled

BEFORE = ("moderation", "0022_gate_run_after_a_decision")  # before the notices and the audit trail moved
BEFORE_THE_MOVES = [BEFORE, ("school", None)]


def migrate(targets):
    """Migrate to targets, as `migrate` does (outside any school, the database's wall rebuilt
    after); the models as they were at the newest named target."""
    executor = MigrationExecutor(connection)
    with scopes_disabled():
        executor.migrate(targets)
        wall.build()
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def upgraded_from_before_the_moves(transactional_db):
    """The database as it was, then the upgrade; put back to the latest schema afterwards."""
    old_apps = migrate(BEFORE_THE_MOVES)
    yield old_apps
    migrate(latest())


def test_an_upgrade_keeps_every_notice_already_sent(upgraded_from_before_the_moves):
    old_notice = upgraded_from_before_the_moves.get_model("moderation", "Notice")
    old_notice.objects.create(key="reminder:draft-7", subject="A draft waits for approval")
    new_apps = migrate(latest())
    notice = new_apps.get_model("school", "Notice")
    assert list(notice.objects.values_list("key", "subject")) == [("reminder:draft-7", "A draft waits for approval")]


def test_a_notice_sent_before_the_upgrade_is_not_sent_again_after_it(upgraded_from_before_the_moves):
    upgraded_from_before_the_moves.get_model("moderation", "Notice").objects.create(key="publish-failed:3", subject="x")
    migrate(latest())
    assert notify.once("publish-failed:3", "x") is False
    assert notify.once("publish-failed:4", "y") is True


def test_an_upgrade_keeps_the_audit_trail_whole_and_it_goes_on_from_its_last_link(upgraded_from_before_the_moves):
    old = upgraded_from_before_the_moves
    at = timezone.now()
    entry_hash = audit_hash(at=at, actor_id=None, action="draft.create", draft_id=None, channel_id=None,
                            summary="A draft was written", data={}, previous_hash=GENESIS_HASH)
    written = old.get_model("moderation", "AuditEntry").objects.create(
        at=at, action="draft.create", summary="A draft was written", data={}, previous_hash=GENESIS_HASH, entry_hash=entry_hash,
    )
    old.get_model("moderation", "AuditChainHead").objects.create(pk=1, last_entry_id=written.pk, last_hash=entry_hash)
    migrate(latest())
    # The installation's trail became its (first and only) school's trail, unbroken.
    with in_school(School.objects.get()):
        assert audit.verify() == (1, None)
        AuditEntry.objects.create(action="draft.submit", summary="Submitted for approval")
        assert audit.verify() == (2, None)
        assert AuditEntry.objects.order_by("id").first().entry_hash == entry_hash


def test_an_upgrade_keeps_every_channel_its_authors_and_who_may_manage_it(upgraded_from_before_the_moves):
    old = upgraded_from_before_the_moves
    user = old.get_model("auth", "User").objects.create(username="office1")
    channel = old.get_model("moderation", "Channel").objects.create(name="School Facebook Page", kind="facebook")
    channel.authors.add(user)
    # As an installation from before the move has it: the channel permissions under moderation.
    ContentType.objects.filter(app_label="connectors", model="channel").update(app_label="moderation")
    ContentType.objects.clear_cache()
    manage = Permission.objects.get(content_type__app_label="moderation", codename="manage_channel")
    group = Group.objects.create(name="Headteachers of old")
    group.permissions.add(manage)
    new = migrate(latest())
    ContentType.objects.clear_cache()
    with scopes_disabled():  # the school the upgrade made, whatever its id
        moved = new.get_model("connectors", "Channel").objects.get(name="School Facebook Page")
        assert list(moved.authors.values_list("username", flat=True)) == ["office1"]
    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [("connectors", "manage_channel")]
