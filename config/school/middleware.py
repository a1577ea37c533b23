"""Every request works in one school's scope: the school its signed-in person works in (chosen
from their schools when they have several), or no school at all for a visitor. A public page of
a school (its news page, its families' page) enters that school's scope itself."""

from config.school.tenancy import in_school, nowhere, schools_of

# The session remembers which of their schools a person with several is working in.
SESSION_KEY = "school"


def school_for(request, schools):
    if not schools:
        return None
    asked = request.GET.get("school", "")
    if asked.isdigit() and any(school.pk == int(asked) for school in schools):
        # A link from an email about one of their schools opens in that school.
        request.session[SESSION_KEY] = int(asked)
    chosen = request.session.get(SESSION_KEY)
    for school in schools:
        if school.pk == chosen:
            return school
    return schools[0]


class SchoolMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        # Every school this person holds a role in (the pages offer to switch between them).
        request.schools = schools_of(user) if user is not None and user.is_authenticated else []
        request.school = school_for(request, request.schools)
        with in_school(request.school) if request.school is not None else nowhere():
            return self.get_response(request)
