"""Roles are Django groups; what each may do is a permission, checked in the services."""

OFFICE_STAFF = "Office staff"
APPROVER = "Approver"
HEADTEACHER = "Headteacher"
DSL = "DSL"
REGISTER_KEEPER = "Register keeper"

# Policy section 5: leadership staff hold the login details of every channel.
LEADERSHIP = (HEADTEACHER, DSL)
# The roles that approve, publish, take down posts or see the consent register give a second
# factor (TOTP) before they reach any page (moderation/accounts/middleware.py).
SECOND_FACTOR = (HEADTEACHER, DSL, APPROVER, REGISTER_KEEPER)

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
}


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


def has_role(user, *roles) -> bool:
    return user.is_authenticated and user.groups.filter(name__in=roles).exists()
