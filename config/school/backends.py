"""Signing in with Django's own password check, and acting with the roles held in one school.

Django's ModelBackend gives a person every permission of every group they are in. Here a
person's permissions are those of the roles they hold in the school the work is for: the school
of the object asked about (a School, or anything with a `school`), else the school in scope.
With no one school (no scope, or several schools at once) no school role counts: fail closed.
Roles held across the installation (user.groups, a trust administrator) always count.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from config.school.models import School
from config.school.roles import INSTALLATION_ROLES
from config.school.tenancy import current_school_id


def school_id_of(obj) -> int | None:
    if isinstance(obj, School):
        return obj.pk
    return getattr(obj, "school_id", None)


class SchoolRolesBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        school_id = school_id_of(obj) if obj is not None else current_school_id()
        cache = user_obj.__dict__.setdefault("_school_perm_cache", {})
        if school_id not in cache:
            # Only the roles held across the installation count from user.groups: a school's role
            # put there by hand would otherwise count in every school.
            granted = Permission.objects.filter(group__user=user_obj, group__name__in=INSTALLATION_ROLES)
            if school_id is not None:
                granted = granted | Permission.objects.filter(
                    group__memberships__user=user_obj, group__memberships__school_id=school_id)
            cache[school_id] = {f"{app}.{codename}" for app, codename in
                                granted.values_list("content_type__app_label", "codename").distinct()}
        return cache[school_id]

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return self.get_all_permissions(user_obj, obj)
