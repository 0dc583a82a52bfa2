from django.apps import AppConfig


class CxhubConfig(AppConfig):
    name = "cxhub"
    verbose_name = "Organisation"
