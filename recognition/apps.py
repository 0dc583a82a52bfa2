from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Customer Champions"

    def ready(self):
        from recognition.receivers import suggest_shoutouts
        from surveys.hooks import response_recorded

        response_recorded.connect(suggest_shoutouts, dispatch_uid="recognition.suggest_shoutouts")
