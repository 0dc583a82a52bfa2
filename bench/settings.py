"""Settings for the benchmarks: the project's production settings (run them with
DEBUG=false), plus a bare view to compare against. Static files are served unhashed
so that no collectstatic run is needed; that changes nothing on the measured paths."""

from cxhub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
