"""Checking the audit trail's hash chain: every entry's hash over its content and the hash of the
entry before it. An entry edited, removed or inserted directly in the database breaks a link."""

from dataclasses import dataclass

from moderation.models import GENESIS_HASH, AuditChainHead, AuditEntry


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
    head = AuditChainHead.objects.filter(pk=1).first()
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_hash != previous:
        return checked, Break(None, f"the newest entries were removed: the trail ends at entry {last_id or 'none'}, "
                                    f"but entry {head.last_entry_id if head else '?'} was written after it.")
    return checked, None
