"""The manager every model holding a school's data uses: django-scopes' ScopedManager on the
dimension "school", so that a query outside any school's scope raises instead of reading every
school's rows (tenancy.py says how work enters a school's scope)."""

from django.db import models
from django_scopes import ScopedManager, get_scope
from django_scopes.exceptions import ScopeError


class SchoolQuerySet(models.QuerySet):
    def select_for_update(self, nowait=False, skip_locked=False, of=(), no_key=False):
        # The scope's filter may join the rows a model belongs to (a photo's draft, a draft's
        # channel). PostgreSQL would lock those too, and two drafts of one channel would wait on
        # each other: lock only the rows asked for.
        return super().select_for_update(nowait=nowait, skip_locked=skip_locked, of=of or ("self",), no_key=no_key)


def school_scoped(path: str = "school", queryset=SchoolQuerySet):
    """A manager whose queries see only the school in scope; `path` reaches the school from this model."""
    manager = ScopedManager(school=path, _manager_class=models.Manager.from_queryset(queryset))
    manager.school_path = path
    return manager


class OutsideAnySchool(ScopeError):
    """Something of a school's was to be written with no school to write it in."""


def current_school_id() -> int | None:
    """The one school in scope, or None (no scope, several schools, or scoping switched off).
    Work enters a school's scope by its id (tenancy.in_school)."""
    state = get_scope()
    value = state.get("school") if state.get("_enabled", True) else None
    return value if isinstance(value, int) else None


class BelongsToSchool(models.Model):
    """A model whose rows carry their school. A new row takes the school of what it belongs to
    (`school_from`: a draft's channel, a concern's post) or else the school in scope; with
    neither it is not written. A row can never be written into a school other than that of
    what it belongs to."""

    school = models.ForeignKey("school.School", on_delete=models.PROTECT, related_name="+")
    school_from: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self._state.adding:
            self.take_school()
        super().save(*args, **kwargs)

    def take_school(self):
        derived = None
        for path in self.school_from:
            owner = self
            for name in path.split("."):
                owner = getattr(owner, name, None)
            if owner is not None:
                derived = owner.school_id
                break
        if self.school_id is None:
            self.school_id = derived if derived is not None else current_school_id()
        elif derived is not None and derived != self.school_id:
            raise OutsideAnySchool(f"This {self._meta.verbose_name} cannot belong to one school and be about another's.")
        if self.school_id is None:
            raise OutsideAnySchool(f"No school is chosen, so this {self._meta.verbose_name} was not written.")
