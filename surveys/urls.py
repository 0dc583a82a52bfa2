from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("r/<str:token>/", views.respond, name="respond"),
    path("r/<str:token>/thanks/", views.respond_thanks, name="respond-thanks"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("s/<slug:slug>/", views.public, name="public"),
    path("s/<slug:slug>/thanks/", views.public_thanks, name="public-thanks"),
    path("responses/", views.responses_list, name="responses"),
    path("responses/export.csv", views.responses_export, name="responses-export"),
    path("responses/import/", views.import_new, name="import-new"),
    path("responses/import/<int:pk>/", views.import_detail, name="import-detail"),
]
