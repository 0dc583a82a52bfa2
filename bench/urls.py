from django.http import HttpResponse
from django.urls import path

from cxhub.urls import urlpatterns as project_urlpatterns


def bare(request):
    """Writes nothing: the floor every real view is measured against."""
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare), *project_urlpatterns]
