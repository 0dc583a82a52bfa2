"""Delighted-compatible v1 API (/v1/): Delighted's clients work by changing the base URL.

Every path answers with and without `.json` (and a trailing slash), as Delighted did.
"""

from django.urls import re_path

from cxhub import api
from surveys.delighted import apis

app_name = "delighted"

END = r"(?:\.json)?/?$"

urlpatterns = [
    re_path(r"^people" + END, apis.PeopleApi.as_view(), name="people"),
    re_path(
        r"^people/(?P<person_email>[^/]+)/survey_requests/pending" + END,
        apis.PendingSurveyRequestsApi.as_view(),
        name="survey-requests-pending",
    ),
    re_path(r"^people/(?P<identifier>[^/]+?)" + END, apis.PersonApi.as_view(), name="person"),
    re_path(r"^survey_responses" + END, apis.SurveyResponsesApi.as_view(), name="survey-responses"),
    re_path(
        r"^survey_responses/(?P<pk>\d{1,18})" + END,
        apis.SurveyResponseApi.as_view(),
        name="survey-response",
    ),
    re_path(r"^metrics" + END, apis.MetricsApi.as_view(), name="metrics"),
    re_path(r"^unsubscribes" + END, apis.UnsubscribesApi.as_view(), name="unsubscribes"),
    re_path(r"^bounces" + END, apis.BouncesApi.as_view(), name="bounces"),
    # Anything else under /v1/ is a JSON 404, like the rest of the API.
    re_path(r"", api.not_found),
]
