"""Checking the audit trail's hash chain: every entry's hash over its content and the hash of the
entry before it. An entry edited, removed or inserted directly in the database breaks a link.

Each school has a chain of its own; everything here works on the school in scope.

A database administrator could still rewrite the whole chain (or cut its newest entries and roll
the head back) and leave it whole. Seals catch that: each day the worker copies the newest link
(entry id and hash) out of the database, by email to the headteacher and onto the audit page;
`verify_audit --seal ENTRY:HASH` then checks that the chain still holds that very entry.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from config.school import notify
from config.school.models import GENESIS_HASH, AuditChainHead, AuditEntry, AuditSeal
from config.school.roles import HEADTEACHER
from config.school.tenancy import current_school

SEAL_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Break:
    entry_id: int | None
    problem: str


def verify() -> tuple[int, Break | None]:
    """(how many entries were checked, the first broken link or None when the chain is whole)."""
    previous, checked, last_id = GENESIS_HASH, 0, None
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        where = f"entry {entry.pk} ({entry.at:%Y-%m-%d %H:%M:%S}, {entry.action})"
        if entry.previous_hash != previous:
            before = f"entry {last_id}" if last_id else "the start of the trail"
            return checked, Break(entry.pk, f"{where} does not follow {before}: an entry between them was removed, or one was inserted.")
        if entry.computed_hash(previous) != entry.entry_hash:
            return checked, Break(entry.pk, f"{where} was changed after it was written: its content no longer matches its hash.")
        previous, last_id, checked = entry.entry_hash, entry.pk, checked + 1
    head = AuditChainHead.objects.first()
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_hash != previous:
        return checked, Break(None, f"the newest entries were removed: the trail ends at entry {last_id or 'none'}, "
                                    f"but entry {head.last_entry_id if head else '?'} was written after it.")
    return checked, None


# --- Seals -------------------------------------------------------------------------------------

SEAL_PATTERN = re.compile(r"^\s*(\d+)\s*:\s*([0-9a-fA-F]{64})\s*$")


def parse_seal(token: str) -> tuple[int, str]:
    """ENTRY:HASH, as the seal's email and the audit page give it; ValueError otherwise."""
    match = SEAL_PATTERN.match(token or "")
    if not match:
        raise ValueError("A seal is written ENTRY:HASH, for example 1234:9f86d081…: the entry's number, a colon and its 64-character hash.")
    return int(match.group(1)), match.group(2).lower()


def check_seal(entry_id: int, entry_hash: str) -> str | None:
    """None when the trail still holds this entry with this hash, linked to everything before it;
    else the first difference, in words."""
    entry = AuditEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        newest = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
        return (f"entry {entry_id} is missing: the trail now ends at entry {newest or 'none'}, so entries were removed "
                "and the chain's head rolled back after the seal was taken.")
    if entry.entry_hash != entry_hash:
        return (f"entry {entry_id}'s hash is {entry.entry_hash}, the seal says {entry_hash}: the trail up to it was "
                "rewritten (an entry edited, removed or inserted, and every later hash recomputed).")
    checked, broken = verify()
    if broken is not None and (broken.entry_id is None or broken.entry_id <= entry_id):
        return broken.problem
    return None


def newest_seal() -> AuditSeal | None:
    return AuditSeal.objects.first()


def take_seal(by=None) -> AuditSeal:
    """Copy the chain's newest link out of the database: stored, shown on the audit page and
    emailed to the headteacher."""
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(school=current_school())
        entries = AuditEntry.objects.filter(pk__lte=head.last_entry_id or 0).count()
        seal = AuditSeal.objects.create(school=head.school, entry_id=head.last_entry_id or 0, entry_hash=head.last_hash, entries=entries, taken_by=by)
    addresses = notify.addresses_of_roles(HEADTEACHER)
    local = timezone.localtime(seal.taken_at)
    sent = notify.email(
        addresses, f"Audit trail seal, {local:%d %B %Y}",
        f"The audit trail held {seal.entries} entries at {local:%H:%M on %d %B %Y}. Its seal is:\n\n"
        f"    {seal.token}\n\n"
        "Keep this email. It lets anyone check later that nobody rewrote the trail up to this point, even "
        "someone with full access to the database:\n\n"
        f"    python manage.py verify_audit --seal {seal.token}\n",
    )
    if sent:
        AuditSeal.objects.filter(pk=seal.pk).update(sent_to=", ".join(addresses))
        seal.sent_to = ", ".join(addresses)
    return seal


def seal_if_due(now=None) -> AuditSeal | None:
    """The worker's round: a seal a day, when the trail has grown since the last one."""
    now = now or timezone.now()
    last = newest_seal()
    head = AuditChainHead.objects.first()
    if head is None or head.last_entry_id is None:
        return None
    if last is not None and (last.taken_at > now - SEAL_EVERY or last.entry_id == head.last_entry_id):
        return None
    return take_seal()
