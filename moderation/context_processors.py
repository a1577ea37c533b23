from config.school.models import School
from config.school.roles import roles_with
from config.school.schools import is_trust_administrator
from config.school.tenancy import schools_of


def school(request):
    """The school the page is about: the signed-in person's school, or the school whose public
    page this is, or, for a visitor to an installation of one school, that school."""
    current = getattr(request, "school", None)
    if current is None and not request.user.is_authenticated:
        only = list(School.objects.all()[:2])
        current = only[0] if len(only) == 1 else None
    mine = getattr(request, "schools", [])
    return {
        "school": current,
        # A person with roles in several schools chooses which they work in (and sees it named).
        "my_schools": mine if len(mine) > 1 else [],
        "is_trust_administrator": is_trust_administrator(request.user),
        "concern_schools": len(schools_of(request.user, *roles_with("moderation.handle_concern"))) > 1 if len(mine) > 1 else False,
    }
