from django.urls import path

from consent import views

urlpatterns = [
    path("", views.register, name="register"),
    path("import/", views.register_import, name="register_import"),
    path("<str:upn>/", views.pupil, name="register_pupil"),
    path("<str:upn>/change/", views.hand_change, name="register_pupil_change"),
    path("<str:upn>/enrol/", views.enrol_faces, name="register_pupil_enrol"),
]
