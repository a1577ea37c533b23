"""The school's people as the product shows and checks them."""

from django.core.exceptions import PermissionDenied


def display_name(user) -> str:
    return (user.get_full_name() or user.username) if user else "the system"


def require(user, perm: str, message: str):
    if not (user and user.is_active and user.has_perm(perm)):
        raise PermissionDenied(message)
