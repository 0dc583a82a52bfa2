"""The native REST API under /api/, composed from each app's apis.py.

OpenAPI schema at /api/schema/, Swagger UI at /api/docs/ and ReDoc at /api/redoc/
(JavaScript vendored by drf-spectacular-sidecar: no CDN).
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from cxhub import api
from feedback import apis as feedback_apis
from recognition import apis as recognition_apis
from surveys import apis as survey_apis

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("touchpoints/", survey_apis.TouchpointListApi.as_view(), name="touchpoint-list"),
    path(
        "touchpoints/<slug:slug>/",
        survey_apis.TouchpointDetailApi.as_view(),
        name="touchpoint-detail",
    ),
    path("people/", survey_apis.PersonListApi.as_view(), name="person-list"),
    path("people/<int:pk>/", survey_apis.PersonDetailApi.as_view(), name="person-detail"),
    path("invitations/", survey_apis.InvitationListApi.as_view(), name="invitation-list"),
    path(
        "invitations/<int:pk>/",
        survey_apis.InvitationDetailApi.as_view(),
        name="invitation-detail",
    ),
    path("responses/", survey_apis.ResponseListApi.as_view(), name="response-list"),
    path("responses/batch/", survey_apis.ResponseBatchApi.as_view(), name="response-batch"),
    path("responses/<int:pk>/", survey_apis.ResponseDetailApi.as_view(), name="response-detail"),
    path("metrics/", survey_apis.MetricsApi.as_view(), name="metrics"),
    path("cases/", feedback_apis.CaseListApi.as_view(), name="case-list"),
    path("cases/<int:pk>/", feedback_apis.CaseDetailApi.as_view(), name="case-detail"),
    path("postcards/", recognition_apis.PostcardListApi.as_view(), name="postcard-list"),
    path("leaderboard/", recognition_apis.LeaderboardApi.as_view(), name="leaderboard"),
    # Last: anything else under /api/ is a JSON 404, not the site's HTML page.
    re_path(r"^", api.not_found),
]
