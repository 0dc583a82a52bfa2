from django.urls import path

from recognition import views

app_name = "recognition"

urlpatterns = [
    path("", views.feed, name="feed"),
    path("send/", views.send, name="send"),
    path("colleagues/", views.colleague_search, name="colleague-search"),
    path("people/<str:username>/", views.person, name="person"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("praise/", views.praise, name="praise"),
    path("praise/<int:response_id>/exclude/", views.praise_exclude, name="praise-exclude"),
    path("postcards/<int:pk>/hide/", views.postcard_hide, name="postcard-hide"),
    path("shout-outs/", views.shoutouts, name="shoutouts"),
    path("shout-outs/<int:pk>/publish/", views.shoutout_publish, name="shoutout-publish"),
    path("shout-outs/<int:pk>/dismiss/", views.shoutout_dismiss, name="shoutout-dismiss"),
    path("me/", views.my_profile, name="me"),
]
