from django.urls import path

from connectors import views
from connectors.facebook import views as facebook
from connectors.youtube import views as youtube

urlpatterns = [
    path("channels/<int:pk>/connection/check/", views.check, name="connection_check"),
    path("channels/<int:pk>/connection/disconnect/", views.disconnect, name="connection_disconnect"),
    path("channels/<int:pk>/connection/facebook/", facebook.connect_facebook, name="connect_facebook"),
    path("channels/<int:pk>/connection/youtube/", youtube.connect_youtube, name="connect_youtube"),
    path("connection/youtube/done/", youtube.connect_youtube_done, name="connect_youtube_done"),
]
