import re

from django import template

from consent.models import Pupil
from moderation.models import MediaFile

register = template.Library()


@register.filter
def person(user, nobody="the system"):
    """A user as a school office would name them; `nobody` when there is no user (a command, the worker)."""
    if not user:
        return nobody
    return user.get_full_name() or user.username


_PUPIL_REFERENCE = re.compile(r"pupil record (\d+)")
_FILE_REFERENCE = re.compile(r"\b([Pp]hoto|[Vv]ideo) (\d+)\b")


def _with_file_names(summary: str) -> str:
    """Each file named by its row ("photo 12") with its name beside it while the file's row exists."""
    numbers = {int(n) for _, n in _FILE_REFERENCE.findall(summary or "")}
    if not numbers:
        return summary

    names = dict(MediaFile.objects.filter(pk__in=numbers).values_list("pk", "original_name"))
    return _FILE_REFERENCE.sub(lambda m: f"{m.group(0)} ('{names[int(m.group(2))]}')" if int(m.group(2)) in names else m.group(0), summary)


@register.filter
def audit_summary(summary: str) -> str:
    """An audit entry's words, with each pupil named beside their record number while the record
    exists (an erased record stays a number: the entry itself never held the name), and each file
    beside its row number while it exists."""
    summary = _with_file_names(summary)
    numbers = {int(n) for n in _PUPIL_REFERENCE.findall(summary or "")}
    if not numbers:
        return summary

    pupils = {p.pk: p for p in Pupil.objects.filter(pk__in=numbers)}

    def named(match):
        pupil = pupils.get(int(match.group(1)))
        if pupil is None or pupil.erased_at:
            return f"an erased pupil's record ({match.group(0)})"
        return f"{pupil} ({pupil.upn}, {match.group(0)})"

    return _PUPIL_REFERENCE.sub(named, summary)
