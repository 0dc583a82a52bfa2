import pytest

from recognition.models import Value


@pytest.fixture
def value(db):
    return Value.objects.create(name="Went the extra mile")


@pytest.fixture
def send(value):
    """Send a postcard through the service with a fresh idempotency key."""
    counter = iter(range(10_000))

    def _send(sender, recipient, message="Thank you for the call-back!", **kwargs):
        from recognition import services

        kwargs.setdefault("idempotency_key", f"k{next(counter)}")
        return services.postcard_send(
            sender=sender,
            recipient=recipient,
            value=kwargs.pop("value", value),
            message=message,
            **kwargs,
        )[0]

    return _send
