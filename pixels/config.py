"""Settings of the pixel package: module constants, each overridable in Django's settings."""

import sys


def setting(name: str, module: str):
    """The value of name: Django's setting of that name when there is one, else the constant
    of that name in module (a module of this package, e.g. "pixels.detection")."""
    try:
        from django.conf import settings

        if settings.configured and hasattr(settings, name):
            return getattr(settings, name)
    except ImportError:  # used without Django (a script): the constants stand
        pass
    return getattr(sys.modules[module], name)
