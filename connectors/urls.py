from django.urls import path

from connectors import views

urlpatterns = [
    path("channels/<int:pk>/connection/check/", views.check, name="connection_check"),
    path("channels/<int:pk>/connection/disconnect/", views.disconnect, name="connection_disconnect"),
    path("channels/<int:pk>/connection/facebook/", views.connect_facebook, name="connect_facebook"),
    path("channels/<int:pk>/connection/youtube/", views.connect_youtube, name="connect_youtube"),
    path("connection/youtube/done/", views.connect_youtube_done, name="connect_youtube_done"),
]
