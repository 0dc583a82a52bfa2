from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Customer Champions"

    def ready(self):
        from recognition import receivers  # noqa: F401 - connects the response_recorded receiver
