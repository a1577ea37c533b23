from django.conf import settings


def school(request):
    return {"school": settings.SCHOOL}
