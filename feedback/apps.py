from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Follow-up"

    def ready(self):
        from feedback import receivers  # noqa: F401 - connects the response_recorded receiver
