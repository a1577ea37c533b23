"""The audit trail is a hash chain: an entry changed directly in the database is found."""

import pytest
from django.core.management import call_command
from django.db import connection

from moderation import audit, services
from moderation.models import AuditChainHead, AuditEntry


def run_verify():
    with pytest.raises(SystemExit) as stopped:
        call_command("verify_audit")
    return stopped.value.code


@pytest.fixture
def trail(approved_draft, approver):
    services.publish(approved_draft, approver)
    assert AuditEntry.objects.count() > 5
    return list(AuditEntry.objects.order_by("id"))


def raw(sql, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_whole_chain_verifies(trail, capsys):
    call_command("verify_audit")
    assert f"whole: {len(trail)} entries" in capsys.readouterr().out
    assert trail[0].previous_hash == "0" * 64
    assert all(b.previous_hash == a.entry_hash for a, b in zip(trail, trail[1:]))


def test_an_entry_edited_in_the_database_is_reported(trail, capsys):
    target = trail[3]
    raw("UPDATE moderation_auditentry SET summary = %s WHERE id = %s", "Nothing happened here", target.pk)
    assert run_verify() == 1
    err = capsys.readouterr().err
    assert f"entry {target.pk}" in err and "changed after it was written" in err and "after 3 whole entries" in err


def test_an_entry_whose_data_was_edited_is_reported(trail):
    target = trail[-2]
    raw("UPDATE moderation_auditentry SET actor_id = NULL WHERE id = %s", target.pk)
    checked, broken = audit.verify()
    assert broken.entry_id == target.pk


def test_an_entry_removed_from_the_middle_is_reported(trail, capsys):
    raw("DELETE FROM moderation_auditentry WHERE id = %s", trail[2].pk)
    assert run_verify() == 1
    assert f"entry {trail[3].pk}" in capsys.readouterr().err


def test_the_newest_entry_removed_is_reported(trail, capsys):
    raw("DELETE FROM moderation_auditentry WHERE id = %s", trail[-1].pk)
    assert run_verify() == 1
    assert "newest entries were removed" in capsys.readouterr().err


def test_an_entry_rehashed_on_its_own_still_breaks_the_next_link(trail):
    """Whoever edits an entry and recomputes its hash must rewrite every later entry too."""
    target = trail[2]
    target.summary = "Rewritten"
    new_hash = target.computed_hash()
    raw("UPDATE moderation_auditentry SET summary = %s, entry_hash = %s WHERE id = %s", "Rewritten", new_hash, target.pk)
    checked, broken = audit.verify()
    assert broken.entry_id == trail[3].pk and "does not follow" in broken.problem


def test_the_product_cannot_change_or_delete_an_entry(trail):
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=trail[0].pk).update(summary="x")
    with pytest.raises(PermissionError):
        trail[0].delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.bulk_create([AuditEntry(action="x", summary="y")])


def test_an_empty_trail_is_whole(db, capsys):
    AuditChainHead.objects.all().delete()
    call_command("verify_audit")
    assert "whole: 0 entries" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_two_processes_writing_at_once_keep_one_chain(tmp_path):
    from tests import processes

    if connection.vendor != "postgresql":
        pytest.skip("separate processes share the test database only on PostgreSQL")
    code = ("from moderation.models import AuditEntry\n"
            "for n in range(150): AuditEntry.objects.create(action='test.write', summary=f'entry {n}', data={'n': n})")
    writers = [processes.start(tmp_path, "shell", "-c", code) for _ in range(3)]
    for writer in writers:
        assert writer.wait(timeout=180) == 0, processes.logs(tmp_path)
    checked, broken = audit.verify()
    assert broken is None and checked == AuditEntry.objects.count() >= 450


def test_entries_written_before_the_chain_are_rewritten_to_name_pupils_by_record_number(db, register_keeper):
    """The migration that starts the chain: older entries named pupils; it names them by record first."""
    import importlib

    from consent.models import Pupil

    migration = importlib.import_module("moderation.migrations.0010_audit_hash_chain")
    amira = Pupil.objects.create(upn="A123456789012", legal_forename="Amira", legal_surname="Khan")
    old = [
        ("register.pupil_updated", 'Amira Khan (A123456789012): details changed: legal forename "Amyra" → "Amira"; year group "3" → "4"',
         {"upn": "A123456789012", "changes": {"legal_forename": ["Amyra", "Amira"], "year_group": ["3", "4"]}}),
        ("faces.erased", "Amira Khan (A123456789012): 2 enrolled faces erased: the pupil has left the school",
         {"upn": "A123456789012", "count": 2, "reason": "the pupil has left the school"}),
        ("faces.enrolled", "2 faces enrolled for pupil A123456789012", {"upn": "A123456789012", "count": 2}),
        ("draft.approve", "Draft 3 approved", {}),
    ]
    for action, summary, data in old:
        AuditEntry.objects.create(action=action, summary=summary, data=data)
    from django.db.migrations.loader import MigrationLoader

    state = MigrationLoader(connection).project_state(("moderation", "0010_audit_hash_chain"))
    migration.chain_existing_entries(state.apps, None)  # with the models as the migration sees them
    rewritten = {e.action: e for e in AuditEntry.objects.filter(action__in=[a for a, _, _ in old])}
    ref = f"pupil record {amira.pk}"
    assert rewritten["register.pupil_updated"].summary == f'{ref}: details changed: legal forename changed; year group "3" → "4"'
    assert rewritten["register.pupil_updated"].data == {"pupil": amira.pk, "changes": {"legal_forename": "changed", "year_group": ["3", "4"]}}
    assert rewritten["faces.erased"].summary == f"{ref}: 2 enrolled faces erased: the pupil has left the school"
    assert rewritten["faces.enrolled"].summary == f"2 faces enrolled for {ref}"
    assert rewritten["draft.approve"].summary == "Draft 3 approved"
    assert audit.verify()[1] is None
    assert "Amira" not in " ".join(e.summary + str(e.data) for e in rewritten.values())
