"""Roles are Django groups; what each may do is a permission, checked in the services.

A person holds a role in a school (config.school.models.Membership), never everywhere: the
permissions they act with are those of their roles in the school in scope (backends.py).
"""

from django.contrib.auth.models import Group

from config.school.models import Membership
from config.school.tenancy import current_school_id, roles_in

OFFICE_STAFF = "Office staff"
APPROVER = "Approver"
HEADTEACHER = "Headteacher"
DSL = "DSL"
REGISTER_KEEPER = "Register keeper"
# Held across the installation, not in one school (user.groups): adds schools and their first
# headteacher, and sees nothing inside any school by it.
TRUST_ADMINISTRATOR = "Trust administrator"

# Policy section 5: leadership staff hold the login details of every channel.
LEADERSHIP = (HEADTEACHER, DSL)
# The roles that approve, publish, take down posts or see the consent register give a second
# factor (TOTP) before they reach any page (moderation/accounts/middleware.py).
SECOND_FACTOR = (HEADTEACHER, DSL, APPROVER, REGISTER_KEEPER, TRUST_ADMINISTRATOR)

ROLE_PERMISSIONS = {
    OFFICE_STAFF: ["moderation.add_draft", "moderation.publish_draft"],
    APPROVER: ["moderation.approve_draft", "moderation.publish_draft"],
    HEADTEACHER: [
        "moderation.approve_draft",
        "moderation.publish_draft",
        "moderation.view_publication_log",
        "connectors.manage_channel",
        "connectors.approve_channel",
        "moderation.handle_concern",
        "moderation.add_policyreview",
        "consent.keep_register",
    ],
    DSL: ["moderation.view_publication_log", "moderation.handle_concern"],
    REGISTER_KEEPER: ["consent.keep_register"],
    TRUST_ADMINISTRATOR: ["school.add_school"],
}
# The roles held in a school (school.Membership), and those held across the installation (user.groups).
SCHOOL_ROLES = (OFFICE_STAFF, APPROVER, HEADTEACHER, DSL, REGISTER_KEEPER)
INSTALLATION_ROLES = (TRUST_ADMINISTRATOR,)


def ensure_groups(**_kwargs):
    """Create the role groups and give each exactly its permissions. Safe to run repeatedly."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # Every app's permissions must exist first, whichever app's migration ran last.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def has_role(user, *roles, school=None) -> bool:
    """Whether this person holds one of these roles in the school (by default, the one in scope)."""
    return bool(roles_in(user, school if school is not None else current_school_id()) & set(roles))


def give_role(user, school, role: str):
    """Give this person a role in one school (kept once, however often it is given)."""
    Membership.objects.get_or_create(user=user, school=school, role=Group.objects.get(name=role))
    user.__dict__.pop("_school_perm_cache", None)


def roles_with(perm: str) -> tuple[str, ...]:
    """The roles that give this permission ("moderation.handle_concern": the headteacher and the DSL)."""
    return tuple(role for role, perms in ROLE_PERMISSIONS.items() if perm in perms)
