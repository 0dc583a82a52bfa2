from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cxhub import scorecard_views, views
from cxhub.auth_views import LogoutView

urlpatterns = [
    # First: the public survey links (/r/, /s/, /u/) are the most requested paths, and
    # Django tries the patterns in order (the survey POST resolved through 20 before).
    path("", include("surveys.urls")),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.no_favicon),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("touchpoints/<slug:slug>/", views.touchpoint_detail, name="touchpoint-detail"),
    path("scorecard/", scorecard_views.scorecard, name="scorecard"),
    path("scorecard/scorecard.csv", scorecard_views.scorecard_csv, name="scorecard-csv"),
    path("scorecard/digest-preview/", scorecard_views.digest_preview, name="digest-preview"),
    path("scorecard/digest/", scorecard_views.digest_opt_out, name="digest-opt-out"),
    path("api/", include("cxhub.api_urls")),
    path("v1/", include("surveys.delighted.urls")),
    path("cases/", include("feedback.urls")),
    path("champions/", include("recognition.urls")),
]

# Error pages in an anonymous visitor's language (a customer who mistyped a link), as
# the survey pages are; staff pages, and so staff's error pages, stay English.
handler404 = "cxhub.views.page_not_found"
handler500 = "cxhub.views.server_error"
