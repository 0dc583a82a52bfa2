from django.apps import AppConfig


class CxhubConfig(AppConfig):
    name = "cxhub"
    verbose_name = "Organisation"

    def ready(self):
        from cxhub import receivers  # noqa: F401 - connects the team alert receivers
