"""Erasing a customer (GDPR) reaches what recognition shows of them at once, cached
panels included."""

import pytest

from surveys import services as survey_services
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_the_home_dashboard_forgets_an_erased_customers_praise_at_once(
    client, employee, touchpoint, django_capture_on_commit_callbacks
):
    person = PersonFactory(email="zoe.quarantine@example.org", name="Zoé Quarantine")
    survey_services.response_record(
        touchpoint=touchpoint, score=10, comment="Lovely people at the counter", person=person
    )
    client.force_login(employee)
    home = client.get("/").content.decode()
    assert "Lovely people at the counter" in home and "Zoé Q." in home  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        survey_services.person_erase(person=person)

    home = client.get("/").content.decode()
    assert "Lovely people at the counter" not in home and "Zoé Q." not in home
