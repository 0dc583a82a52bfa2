"""Settings for the benchmarks: the project's settings (run with DEBUG=false, i.e.
production), plus a bare view to compare against (bench.urls).

Static files are served unhashed so that no collectstatic run is needed; that changes
nothing on the measured paths (no page under test is a static file)."""

import warnings

from cxhub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
# WhiteNoise warns once per process that STATIC_ROOT (collectstatic's output) is missing.
warnings.filterwarnings("ignore", message="No directory at: ")
