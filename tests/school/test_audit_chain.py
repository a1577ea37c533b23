"""The audit trail is a hash chain: an entry changed directly in the database is found."""

import pytest
from django.core.management import call_command
from django.db import connection

from config.school import audit
from config.school.models import AuditChainHead, AuditEntry
from moderation.publishing import services as publishing


def run_verify():
    with pytest.raises(SystemExit) as stopped:
        call_command("verify_audit")
    return stopped.value.code


@pytest.fixture
def trail(approved_draft, approver):
    publishing.publish(approved_draft, approver)
    assert AuditEntry.objects.count() > 5
    return list(AuditEntry.objects.order_by("id"))


def raw(sql, *params):
    """SQL as a database administrator would type it, past the product. On PostgreSQL such a
    person first switches off the triggers (the one that refuses changes among them), as a
    superuser can."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


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
    code = ("from config.school.tenancy import first_school, in_school\n"
            "school_scope = in_school(first_school()); school_scope.__enter__()\n"
            "from config.school.models import AuditEntry\n"
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
    # With the models as the migration sees them, and (on PostgreSQL) without the trigger that
    # a later migration adds: this one ran before it existed.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            migration.chain_existing_entries(state.apps, None)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")
    rewritten = {e.action: e for e in AuditEntry.objects.filter(action__in=[a for a, _, _ in old])}
    ref = f"pupil record {amira.pk}"
    assert rewritten["register.pupil_updated"].summary == f'{ref}: details changed: legal forename changed; year group "3" → "4"'
    assert rewritten["register.pupil_updated"].data == {"pupil": amira.pk, "changes": {"legal_forename": "changed", "year_group": ["3", "4"]}}
    assert rewritten["faces.erased"].summary == f"{ref}: 2 enrolled faces erased: the pupil has left the school"
    assert rewritten["faces.enrolled"].summary == f"2 faces enrolled for {ref}"
    assert rewritten["draft.approve"].summary == "Draft 3 approved"
    assert audit.verify()[1] is None
    assert "Amira" not in " ".join(e.summary + str(e.data) for e in rewritten.values())



# --- Seals: the newest link, kept outside the database ----------------------------------------------


def rewrite_from(position: int):
    """Recompute every hash from the entry at this position on, and roll the head to the last one:
    what someone who edited the database would do to leave the chain whole."""
    entries = list(AuditEntry.objects.order_by("id"))
    previous = entries[position - 1].entry_hash if position else "0" * 64
    for entry in entries[position:]:
        new_hash = entry.computed_hash(previous)
        raw("UPDATE moderation_auditentry SET previous_hash = %s, entry_hash = %s WHERE id = %s", previous, new_hash, entry.pk)
        previous = new_hash
    AuditChainHead.objects.filter(pk=1).update(last_entry_id=entries[-1].pk if entries else None, last_hash=previous)


def verify_with_seal(token):
    with pytest.raises(SystemExit) as stopped:
        call_command("verify_audit", "--seal", token)
    return stopped.value.code


def test_a_tail_cut_with_the_head_rolled_back_is_caught_by_a_seal_taken_before(trail, capsys):
    seal = audit.take_seal()
    kept = trail[:4]
    raw("DELETE FROM moderation_auditentry WHERE id > %s", kept[-1].pk)
    AuditChainHead.objects.filter(pk=1).update(last_entry_id=kept[-1].pk, last_hash=kept[-1].entry_hash)
    assert audit.verify() == (4, None)  # the chain alone looks whole
    assert verify_with_seal(seal.token) == 1
    assert f"entry {seal.entry_id} is missing" in capsys.readouterr().err


def test_a_whole_chain_recomputed_after_an_edit_is_caught_by_a_seal_taken_before(trail, capsys):
    seal = audit.take_seal()
    raw("UPDATE moderation_auditentry SET summary = %s WHERE id = %s", "Nothing happened here", trail[2].pk)
    rewrite_from(2)
    assert audit.verify()[1] is None
    assert verify_with_seal(seal.token) == 1
    assert "was rewritten" in capsys.readouterr().err


def test_an_entry_inserted_into_the_middle_is_caught_by_a_seal_taken_before(trail, capsys):
    seal = audit.take_seal()
    # Every entry from the fourth on moves up one place, and a made-up entry takes the fourth's.
    for entry in reversed(trail[3:]):
        raw("UPDATE moderation_auditentry SET id = %s WHERE id = %s", entry.pk + 1000, entry.pk)
    for entry in trail[3:]:
        raw("UPDATE moderation_auditentry SET id = %s WHERE id = %s", entry.pk + 1, entry.pk + 1000)
    raw("INSERT INTO moderation_auditentry (id, school_id, at, action, summary, data, previous_hash, entry_hash) "
        "VALUES (%s, %s, %s, 'draft.approved', 'Approved by the headteacher', '{}', '', '')", trail[3].pk, trail[3].school_id, trail[3].at)
    rewrite_from(3)
    assert audit.verify()[1] is None
    assert verify_with_seal(seal.token) == 1
    assert f"entry {seal.entry_id}'s hash is" in capsys.readouterr().err


def test_a_seal_of_an_untouched_trail_holds(trail, capsys):
    seal = audit.take_seal()
    AuditEntry.objects.create(action="draft.created", summary="A later entry")  # the trail grows after the seal
    call_command("verify_audit", "--seal", seal.token)
    out = capsys.readouterr().out
    assert f"The seal of entry {seal.entry_id} holds" in out and "whole" in out


def test_verify_audit_prints_the_newest_seal(trail, capsys):
    seal = audit.take_seal()
    call_command("verify_audit")
    assert f"Newest seal: {seal.token}" in capsys.readouterr().out


def test_a_seal_written_wrongly_is_refused_with_what_a_seal_looks_like(trail, capsys):
    assert verify_with_seal("12:not-a-hash") == 2
    assert "ENTRY:HASH" in capsys.readouterr().err


def test_the_worker_seals_the_trail_once_a_day_and_emails_it_to_the_headteacher(trail, head, mailoutbox):
    import datetime

    from django.utils import timezone

    head.email = "head@aycliffe.kent.sch.uk"
    head.save()
    seal = audit.seal_if_due()
    assert seal is not None and seal.sent_to == "head@aycliffe.kent.sch.uk"
    [message] = mailoutbox
    assert seal.token in message.body and "verify_audit --seal" in message.body
    assert audit.seal_if_due() is None  # not again the same day
    AuditEntry.objects.create(action="draft.created", summary="A later entry")  # the trail grows
    assert audit.seal_if_due(now=timezone.now() + datetime.timedelta(days=1, minutes=1)) is not None


def test_the_audit_page_shows_the_seals_and_seals_on_demand(trail, head):
    from tests.conftest import Client

    browser = Client()
    browser.force_login(head)
    browser.post("/log/audit/seal/")
    seal = audit.newest_seal()
    assert seal is not None and seal.taken_by == head
    assert seal.token.encode() in browser.get("/log/audit/").content


def test_on_postgresql_the_database_itself_refuses_to_change_or_delete_an_entry(trail):
    from django.db import DatabaseError, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    for sql in ("UPDATE moderation_auditentry SET summary = 'x' WHERE id = %s", "DELETE FROM moderation_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="cannot be changed or deleted"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [trail[0].pk])
