from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("r/<str:token>/", views.respond, name="respond"),
    path("r/<str:token>/thanks/", views.respond_thanks, name="respond-thanks"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("s/<slug:slug>/", views.public, name="public"),
    path("s/<slug:slug>/thanks/", views.public_thanks, name="public-thanks"),
]
