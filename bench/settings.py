"""Settings for the benchmarks: the project's, plus a bare view to compare against."""

from cxhub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
