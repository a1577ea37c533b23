from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from moderation.accounts.views import second_factor_view

urlpatterns = [
    path("login/", login_not_required(auth_views.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/second-factor/", second_factor_view, name="second_factor"),
    path("register/", include("consent.urls")),
    path("", include("connectors.urls")),
    path("", include("moderation.urls")),
]
