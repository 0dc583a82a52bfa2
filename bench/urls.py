import datetime as dt
import functools

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path

from cxhub.urls import urlpatterns as project_urlpatterns


def bare(request):
    """Writes nothing: the floor every real view is measured against."""
    return HttpResponse("ok")


@functools.cache
def _touchpoint(slug):
    from surveys.models import Touchpoint

    return Touchpoint.objects.get(slug=slug)


def plain_insert(request, slug):
    """The issue's yardstick, "a plain Django view with one insert": the survey form's
    POST (CSRF checked by the middleware) saved with Response.objects.create() in
    autocommit, and nothing else (no validation, case, hooks or rollup). The touchpoint
    is read once per process, so the INSERT is the request's one query."""
    from django.db import connection

    from surveys.models import Response

    # It writes detractors without their cases: only into a benchmark's own database.
    if not connection.settings_dict["NAME"].startswith("cxhub_bench"):
        raise Http404("only on a benchmark database")
    score = int(request.POST["score"])
    category = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
    now = dt.datetime.now(dt.UTC)
    Response.objects.create(
        touchpoint=_touchpoint(slug),
        score=score,
        category=category,
        comment=request.POST.get("comment", ""),
        channel="web",
        properties={},
        created_at=now,
        updated_at=now,
    )
    return HttpResponseRedirect(f"/s/{slug}/thanks/")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/insert/<slug:slug>/", plain_insert),
    *project_urlpatterns,
]
