"""The team-alert admin pages: a change applies at once, and the delivery log's page
does not offer every response in a drop-down."""

import pytest

from cxhub import services
from cxhub.models import AlertDelivery, TeamAlert
from tests.factories import ResponseFactory

pytestmark = pytest.mark.django_db


def test_deactivating_a_team_alert_in_the_admin_stops_its_alerts_at_once(admin_client, team_a):
    alert = TeamAlert.objects.create(team=team_a, webhook_url="https://chat.example.com/hook")
    assert services.team_alert(team_a.pk) == alert  # remembered for 30 s
    page = admin_client.post(
        f"/admin/cxhub/teamalert/{alert.pk}/change/",
        {"team": team_a.pk, "webhook_url": alert.webhook_url, "new_detractors": "on"},
    )
    assert page.status_code == 302
    assert services.team_alert(team_a.pk) is None


def test_deleting_a_team_alert_in_the_admin_stops_its_alerts_at_once(admin_client, team_a):
    alert = TeamAlert.objects.create(team=team_a, webhook_url="https://chat.example.com/hook")
    assert services.team_alert(team_a.pk) == alert
    page = admin_client.post(f"/admin/cxhub/teamalert/{alert.pk}/delete/", {"post": "yes"})
    assert page.status_code == 302
    assert services.team_alert(team_a.pk) is None


def test_an_alert_deliverys_page_shows_its_response_read_only(admin_client, team_a, touchpoint):
    response = ResponseFactory(touchpoint=touchpoint, score=2)
    delivery = AlertDelivery.objects.create(
        team=team_a, kind="new_detractor", text="New detractor (2)", response=response
    )
    page = admin_client.get(f"/admin/cxhub/alertdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert 'name="response"' not in page.content.decode()  # no <select> of every response
