"""A touchpoint's public link (kiosks, QR codes) takes anonymous answers, so it limits
how many one address may give in a window: a script must not be able to flood the
touchpoint's NPS, or its team's queue with detractor cases to call."""

import pytest
from django.test import Client

from cxhub import addresses
from feedback.models import FollowUpCase
from surveys.models import Response


def post(client, touchpoint, score="2", comment="slow", **extra):
    return client.post(f"/s/{touchpoint.slug}/", {"score": score, "comment": comment}, **extra)


@pytest.fixture
def three_a_minute(settings):
    settings.PUBLIC_SURVEY_RATE = "3/min"


def test_beyond_the_rate_an_address_gets_a_polite_429_and_nothing_is_recorded(
    customer_client, touchpoint, three_a_minute
):
    assert [post(customer_client, touchpoint).status_code for _ in range(3)] == [302] * 3
    page = post(customer_client, touchpoint, score="0", comment="the fourth, kept for later")
    assert page.status_code == 429
    assert 1 <= int(page["Retry-After"]) <= 60
    html = page.content.decode()
    assert "Many answers have come from your network in the last minute" in html
    # What the customer chose is still there, to send again in a moment.
    assert 'id="score-0" value="0" checked' in html
    assert "the fourth, kept for later</textarea>" in html
    assert Response.objects.count() == 3
    assert FollowUpCase.objects.count() == 3  # no case for the answer refused


def test_the_limit_is_per_address_and_per_touchpoint(touchpoint, touchpoint_b, three_a_minute):
    kiosk = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        post(kiosk, touchpoint)
    assert post(kiosk, touchpoint).status_code == 429
    assert post(kiosk, touchpoint_b).status_code == 302  # another touchpoint's link
    assert post(Client(REMOTE_ADDR="203.0.113.8"), touchpoint).status_code == 302


def test_the_limit_in_french_for_a_french_browser(touchpoint, settings):
    settings.PUBLIC_SURVEY_RATE = "1/min"
    phone = Client(HTTP_ACCEPT_LANGUAGE="fr")
    post(phone, touchpoint)
    page = post(phone, touchpoint)
    assert page.status_code == 429
    assert "Beaucoup de réponses sont venues de votre réseau" in page.content.decode()


def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(touchpoint, three_a_minute):
    client = Client(REMOTE_ADDR="203.0.113.7")
    codes = [
        post(client, touchpoint, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]


def test_behind_a_trusted_proxy_each_customer_is_counted_apart(
    touchpoint, three_a_minute, settings
):
    settings.NUM_PROXIES = 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")  # every request arrives from the proxy
    for _ in range(3):
        post(proxy, touchpoint, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert post(proxy, touchpoint, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    # The proxy appends what it saw: what a client wrote in front of it is not trusted.
    forged = "6.6.6.6, 198.51.100.1"
    assert post(proxy, touchpoint, HTTP_X_FORWARDED_FOR=forged).status_code == 429
    assert post(proxy, touchpoint, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 302


def test_ipv6_addresses_count_by_their_64(touchpoint, three_a_minute):
    for i in range(3):
        post(Client(REMOTE_ADDR=f"2001:db8:1:2::{i + 1}"), touchpoint)
    assert post(Client(REMOTE_ADDR="2001:db8:1:2:ffff::9"), touchpoint).status_code == 429
    assert post(Client(REMOTE_ADDR="2001:db8:1:3::1"), touchpoint).status_code == 302


def test_with_the_cache_down_answers_are_still_recorded(
    customer_client, touchpoint, cache_at, settings, caplog
):
    settings.PUBLIC_SURVEY_RATE = "1/min"
    with cache_at("redis://127.0.0.1:1/0"):  # nothing listens there
        codes = [post(customer_client, touchpoint).status_code for _ in range(3)]
    assert codes == [302, 302, 302]
    assert Response.objects.count() == 3
    assert "cache unavailable (counting public-survey answers: they go unlimited)" in caplog.text


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("192.0.2.1", "", 0, "192.0.2.1"),
        ("192.0.2.1", "198.51.100.9", 0, "192.0.2.1"),
        ("10.0.0.2", "198.51.100.9", 1, "198.51.100.9"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.9, 10.0.0.1", 2, "198.51.100.9"),
        ("10.0.0.2", "", 1, "10.0.0.2"),
        ("::ffff:192.0.2.1", "", 0, "192.0.2.1"),
        # Load balancers that write the client's port: the port is not the client.
        ("10.0.0.2", "203.0.113.7:40001", 1, "203.0.113.7"),
        ("10.0.0.2", "[2001:db8:1:2::5]:443", 1, "2001:db8:1:2::/64"),
        ("10.0.0.2", "2001:db8:1:2::5", 1, "2001:db8:1:2::/64"),
        ("2001:db8::1", "", 0, "2001:db8::/64"),
    ],
)
def test_client_network(rf, settings, remote, forwarded, proxies, expected):
    settings.NUM_PROXIES = proxies
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert addresses.client_network(request) == expected


def test_with_the_limit_left_to_a_proxy_answers_are_not_counted(
    customer_client, touchpoint, settings, monkeypatch
):
    from cxhub import caching

    def counted(*args, **kwargs):
        raise AssertionError("counted although PUBLIC_SURVEY_RATE is empty")

    settings.PUBLIC_SURVEY_RATE = ""  # PUBLIC_SURVEY_RATE= in the environment
    monkeypatch.setattr(caching, "over_rate", counted)
    assert [post(customer_client, touchpoint).status_code for _ in range(40)] == [302] * 40
    assert Response.objects.count() == 40
