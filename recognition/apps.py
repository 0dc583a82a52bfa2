from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Customer Champions"

    def ready(self):
        from recognition.receivers import erase_customer, suggest_shoutouts, suggest_shoutouts_many
        from surveys.hooks import person_erased, response_recorded, responses_recorded

        response_recorded.connect(suggest_shoutouts, dispatch_uid="recognition.suggest_shoutouts")
        responses_recorded.connect(
            suggest_shoutouts_many, dispatch_uid="recognition.suggest_shoutouts_many"
        )
        person_erased.connect(erase_customer, dispatch_uid="recognition.erase_customer")
