from django.contrib.auth.decorators import login_not_required
from django.urls import path

from moderation import mirror, views

urlpatterns = [
    path("", views.home, name="home"),
    path("aup/", views.accept_aup, name="aup"),
    path("drafts/", views.my_drafts, name="my_drafts"),
    path("drafts/new/", views.new_draft, name="new_draft"),
    path("drafts/<int:pk>/", views.draft_detail, name="draft"),
    path("drafts/<int:pk>/edit/", views.edit_draft, name="edit_draft"),
    path("drafts/<int:pk>/media/", views.add_media, name="add_media"),
    path("drafts/<int:pk>/media/<int:media_id>/", views.media_original, name="media_original"),
    path("drafts/<int:pk>/media/<int:media_id>/remove/", views.remove_media, name="remove_media"),
    path("drafts/<int:pk>/submit/", views.submit_draft, name="submit_draft"),
    path("drafts/<int:pk>/reopen/", views.reopen_draft, name="reopen_draft"),
    path("drafts/<int:pk>/withdraw/", views.withdraw_draft, name="withdraw_draft"),
    path("drafts/<int:pk>/approve/", views.approve_draft, name="approve_draft"),
    path("drafts/<int:pk>/send-back/", views.send_back_draft, name="send_back_draft"),
    path("drafts/<int:pk>/publish/", views.publish_draft, name="publish_draft"),
    path("queue/", views.queue, name="queue"),
    path("channels/", views.channel_list, name="channels"),
    path("channels/new/", views.channel_edit, name="new_channel"),
    path("channels/<int:pk>/", views.channel_detail, name="channel"),
    path("channels/<int:pk>/edit/", views.channel_edit, name="edit_channel"),
    path("channels/<int:pk>/risk-assessment/", views.channel_risk_assessment, name="channel_risk_assessment"),
    path("log/", views.publication_log, name="log"),
    path("log/export.csv", views.publication_log_csv, name="log_csv"),
    path("log/<int:pk>/", views.publication_log_entry, name="log_entry"),
    path("log/audit/", views.audit_trail, name="audit"),
    path("mirror/", mirror.mirror_index, name="mirror"),
    path("mirror/feed/", login_not_required(mirror.MirrorFeed()), name="mirror_feed"),
    path("mirror/<int:pk>/", mirror.mirror_post, name="mirror_post"),
    path("mirror/<int:pk>/media/<int:position>/", mirror.mirror_media, name="mirror_media"),
]
