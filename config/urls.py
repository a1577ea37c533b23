from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from moderation.accounts.views import second_factor_view


class FaviconView(RedirectView):
    """Browsers and feed readers ask every site for /favicon.ico: the site's icon, wherever it is served from."""

    permanent = True

    def get_redirect_url(self, *args, **kwargs):
        return static("favicon.svg")


urlpatterns = [
    path("favicon.ico", login_not_required(FaviconView.as_view())),
    path("login/", login_not_required(auth_views.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/second-factor/", second_factor_view, name="second_factor"),
    path("register/", include("consent.urls")),
    path("", include("connectors.urls")),
    path("", include("moderation.urls")),
]
