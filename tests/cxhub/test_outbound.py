"""Outgoing HTTP goes only to public addresses unless allowed (cxhub/outbound.py).

The suite allows private networks (its receivers listen on 127.0.0.1); every test here
refuses them again, as production does by default. Receivers are real sockets on the
loopback interface; every connection a test's code attempts is recorded, and any to a
non-loopback address is failed at once (there is no network, and a test must never
reach out). Host names are answered by a fake resolver where a test needs one.
"""

import datetime as dt
import errno
import ipaddress
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.utils import timezone

from cxhub import outbound, webhooks
from cxhub import services as cxhub_services
from cxhub.models import AlertDelivery, TeamAlert, WebhookDelivery, WebhookEndpoint
from surveys import services as survey_services

FIX = "OUTBOUND_ALLOWED_HOSTS or set OUTBOUND_ALLOW_PRIVATE_NETWORKS=true."


@pytest.fixture(autouse=True)
def _private_networks_refused(_outbound_to_local_receivers, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_HOSTS = []


@pytest.fixture(autouse=True)
def connects(monkeypatch):
    """Every socket connect the code under test attempts; non-loopback ones fail."""
    attempts = []

    class Guarded(socket.socket):
        def connect(self, address):
            attempts.append(address)
            host = address[0] if isinstance(address, tuple) else ""
            try:
                loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise OSError(errno.ENETUNREACH, f"no network in tests ({host})")
            return super().connect(address)

    monkeypatch.setattr(socket, "socket", Guarded)
    return attempts


@pytest.fixture
def dns(monkeypatch):
    """`dns.answers[name] = [[ips…], [ips…], …]`: successive lookups of `name` get the
    next list (the last one repeats); None fails the lookup. `dns.lookups[name]`."""
    real = socket.getaddrinfo
    answers: dict[str, list] = {}
    lookups: Counter = Counter()

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return real(host, port, family, type, proto, flags)
        lookups[name] += 1
        ips = answers[name][0] if len(answers[name]) == 1 else answers[name].pop(0)
        if ips is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))
            for ip in ips
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(answers=answers, lookups=lookups)


@pytest.fixture
def listen():
    """`listen(host, port)`: an HTTP receiver on a loopback address answering 200, with
    `.port`, `.connections` (TCP connections accepted) and `.requests` ((path, Host))."""
    servers = []

    def start(host="127.0.0.1", port=0):
        state = SimpleNamespace(connections=0, requests=[], port=0)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                self.rfile.read(int(self.headers["Content-Length"]))
                state.requests.append((self.path, self.headers["Host"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

            def process_request(self, request, client_address):
                state.connections += 1
                super().process_request(request, client_address)

            def handle_error(self, request, client_address):
                pass  # a TLS hello to a plain HTTP server

        server = Server((host, port), Handler)
        state.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _webhook_to(url, capture, touchpoint) -> WebhookDelivery:
    """An endpoint saved with `url` (as if DNS changed after the save), and an answer."""
    WebhookEndpoint.objects.create(url=url, events=["survey_response.created"])
    webhooks.webhook_endpoints_forget()
    with capture(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    return WebhookDelivery.objects.get()


# --- the check ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/in", "127.0.0.1 is a loopback address"),
        ("http://127.1.2.3:8080/in", "127.1.2.3 is a loopback address"),
        ("http://10.0.0.5/in", "10.0.0.5 is a private address"),
        ("https://172.16.3.4/in", "172.16.3.4 is a private address"),
        ("https://192.168.1.10/in", "192.168.1.10 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
        ("http://100.64.0.1/", "100.64.0.1 is a non-public address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
        ("http://[::1]/in", "::1 is a loopback address"),
        ("http://[fd12:3456::1]/in", "fd12:3456::1 is a unique-local address"),
        ("http://[fe80::1]/in", "fe80::1 is a link-local address"),
        ("http://[fec0::1]/in", "fec0::1 is a site-local address"),
        ("http://[::ffff:127.0.0.1]/in", "::ffff:127.0.0.1 is a loopback address"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254 is a link-local address"),
        ("http://[2002:a00:5::]/in", "2002:a00:5:: is a private address"),  # 6to4 of 10.0.0.5
        ("http://[64:ff9b::7f00:1]/in", "64:ff9b::7f00:1 is a loopback address"),  # NAT64
        ("http://2130706433/in", "2130706433 resolves to 127.0.0.1, a loopback address"),
        ("http://localhost:8000/in", "localhost resolves to 127.0.0.1, a loopback address"),
    ],
)
def test_a_url_whose_host_is_not_a_public_address_is_refused(url, message):
    with pytest.raises(outbound.Refused) as refused:
        outbound.destination_check(url)
    host = message.split(" ")[0]
    assert str(refused.value) == f"{message}; to allow it, add {host} to {FIX}"


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/hooks",
        "http://93.184.215.14:8080/hooks",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hooks",
        "https://[::ffff:93.184.215.14]/hooks",
        "https://[64:ff9b::5db8:d70e]/hooks",  # NAT64 of 93.184.215.14
    ],
)
def test_a_public_address_passes_the_check(url, connects):
    destination = outbound.destination_check(url)
    assert destination.port in (443, 8080)
    assert destination.addresses
    assert all(
        outbound.non_public_kind(ipaddress.ip_address(a[4][0])) is None
        for a in destination.addresses
    )
    assert connects == []  # checking never connects


def test_a_host_is_refused_if_any_of_its_addresses_is_private(dns):
    dns.answers["hooks.example.com"] = [["93.184.215.14", "10.0.0.5"]]
    with pytest.raises(outbound.Refused) as refused:
        outbound.destination_check("https://hooks.example.com/in")
    assert str(refused.value) == (
        f"hooks.example.com resolves to 10.0.0.5, a private address; to allow it, add "
        f"hooks.example.com to {FIX}"
    )


@pytest.mark.parametrize(
    "url", ["ftp://93.184.215.14/in", "file:///etc/passwd", "gopher://93.184.215.14/", "http:///x"]
)
def test_only_http_urls_with_a_host_pass(url):
    with pytest.raises(outbound.Refused):
        outbound.destination_check(url)


def test_a_host_that_does_not_resolve_is_unresolvable_even_with_private_networks_allowed(
    dns, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    dns.answers["hooks.slack.invalid"] = [None]
    with pytest.raises(outbound.Unresolvable) as unresolvable:
        outbound.destination_check("https://hooks.slack.invalid/services/T000")
    assert str(unresolvable.value) == (
        "hooks.slack.invalid does not resolve (Name or service not known): check the host name."
    )


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:9000/in"),
        (["127.0.0.0/8"], "http://127.0.0.7/in"),
        (["LOCALHOST"], "http://localhost/in"),
        (["[::1]"], "http://[::1]/in"),
        (["127.0.0.1"], "http://[::ffff:127.0.0.1]/in"),
        (["10.0.0.0/8", "hooks.internal"], "http://hooks.internal/in"),
    ],
)
def test_outbound_allowed_hosts_lets_listed_names_addresses_and_networks_through(
    allowed, url, settings, dns
):
    dns.answers["hooks.internal"] = [["192.168.7.7"]]
    settings.OUTBOUND_ALLOWED_HOSTS = allowed
    assert outbound.destination_check(url).addresses


@pytest.mark.parametrize(
    ("allowed", "url", "refused"),
    [
        (["hooks.internal"], "http://127.0.0.1/in", "127.0.0.1"),
        (["10.0.0.0/8"], "http://192.168.1.1/in", "192.168.1.1"),
        (["10.0.0.5"], "http://hooks.example.com/in", "10.0.0.6"),
    ],
)
def test_outbound_allowed_hosts_allows_nothing_else(allowed, url, refused, settings, dns):
    dns.answers["hooks.example.com"] = [["10.0.0.5", "10.0.0.6"]]
    settings.OUTBOUND_ALLOWED_HOSTS = allowed
    with pytest.raises(outbound.Refused, match=refused):
        outbound.destination_check(url)


def test_with_private_networks_allowed_anything_that_resolves_passes(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    for url in ("http://127.0.0.1/", "http://10.0.0.5/", "http://169.254.169.254/"):
        assert outbound.destination_check(url).addresses


# --- at delivery ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "url", "message"),
    [
        ("127.0.0.1", "http://127.0.0.1:{port}/hooks", "127.0.0.1 is a loopback address"),
        (
            "127.0.0.1",
            "http://localhost:{port}/hooks",
            "localhost resolves to 127.0.0.1, a loopback address",
        ),
        ("::1", "http://[::1]:{port}/hooks", "::1 is a loopback address"),
    ],
)
def test_a_webhook_to_a_local_receiver_is_refused_logged_as_failed_and_never_connected(
    host, url, message, listen, touchpoint, connects, django_capture_on_commit_callbacks, caplog
):
    receiver = listen(host)
    delivery = _webhook_to(
        url.format(port=receiver.port), django_capture_on_commit_callbacks, touchpoint
    )
    name = message.split(" ")[0]
    expected = f"Refused: {message}; to allow it, add {name} to {FIX}"
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, expected)
    assert delivery.response_status_code is None
    assert (receiver.connections, receiver.requests, connects) == (0, [], [])
    assert f"WebhookDelivery {delivery.pk} failed: {expected}" in caplog.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.5/hooks", "10.0.0.5 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://webhooks.example/in", "webhooks.example resolves to 10.0.0.5, a private address"),
    ],
)
def test_a_webhook_to_a_private_address_is_refused_without_a_connection_and_not_retried(
    url, message, touchpoint, connects, dns, django_capture_on_commit_callbacks, time_machine
):
    dns.answers["webhooks.example"] = [["10.0.0.5"]]
    delivery = _webhook_to(url, django_capture_on_commit_callbacks, touchpoint)
    name = message.split(" ")[0]
    assert (delivery.status, delivery.last_error) == (
        "failed",
        f"Refused: {message}; to allow it, add {name} to {FIX}",
    )
    assert connects == []
    # Failed for good: the sweeper has nothing to redo.
    time_machine.move_to(timezone.now() + dt.timedelta(hours=1), tick=False)
    assert webhooks.webhooks_redeliver() == 0
    assert connects == []


def test_a_team_alert_to_the_cloud_metadata_address_is_refused_and_logged(
    team_a, touchpoint, connects, django_capture_on_commit_callbacks
):
    TeamAlert.objects.create(team=team_a, webhook_url="http://169.254.169.254/latest/meta-data/")
    cxhub_services.team_alerts_forget()
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=1)
    alert = AlertDelivery.objects.get()
    assert (alert.status, alert.attempts, alert.last_error) == (
        "failed",
        1,
        f"Refused: 169.254.169.254 is a link-local address; to allow it, add 169.254.169.254 to {FIX}",
    )
    assert connects == []


def test_a_name_that_resolves_privately_after_the_save_is_refused_at_delivery(
    listen, touchpoint, dns, connects, django_capture_on_commit_callbacks
):
    receiver = listen()
    dns.answers["hooks.example.com"] = [["93.184.215.14"], ["127.0.0.1"]]
    url = f"http://hooks.example.com:{receiver.port}/hooks"
    webhooks.webhook_endpoint_create(url=url, events=["survey_response.created"])  # public now
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith(
        "Refused: hooks.example.com resolves to 127.0.0.1, a loopback address"
    )
    assert (receiver.connections, connects) == (0, [])


@pytest.mark.parametrize(
    ("setting", "allowed", "url"),
    [
        (True, [], "http://127.0.0.1:{port}/hooks"),
        (False, ["127.0.0.1"], "http://127.0.0.1:{port}/hooks"),
        (False, ["localhost"], "http://localhost:{port}/hooks"),
        (False, ["127.0.0.0/8"], "http://localhost:{port}/hooks"),
    ],
)
def test_a_local_receiver_gets_the_webhook_while_allowed_and_not_after(
    setting, allowed, url, settings, listen, touchpoint, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = setting
    settings.OUTBOUND_ALLOWED_HOSTS = allowed
    receiver = listen()
    delivery = _webhook_to(
        url.format(port=receiver.port), django_capture_on_commit_callbacks, touchpoint
    )
    assert (delivery.status, delivery.response_status_code, delivery.last_error) == (
        "sent",
        200,
        "",
    )
    assert [path for path, _ in receiver.requests] == ["/hooks"]
    # The allowance withdrawn, the same event redelivered goes nowhere.
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS, settings.OUTBOUND_ALLOWED_HOSTS = False, []
    with django_capture_on_commit_callbacks(execute=True):
        again = webhooks.webhook_delivery_redeliver(delivery=delivery)
    again.refresh_from_db()
    assert again.status == "failed" and again.last_error.startswith("Refused: ")
    assert receiver.connections == 1


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_rebinding_name_is_connected_to_the_address_that_was_checked(
    scheme, settings, listen, touchpoint, dns, connects, django_capture_on_commit_callbacks
):
    # Only 127.0.0.1 is allowed; "rebind.test" answers differently on each lookup.
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver = listen()
    elsewhere = listen("127.0.0.2", receiver.port)  # stands for a private address
    url = f"{scheme}://rebind.test:{receiver.port}/hooks"
    WebhookEndpoint.objects.create(url=url, events=["survey_response.created"])
    webhooks.webhook_endpoints_forget()

    def answer(lookups):
        dns.answers["rebind.test"] = lookups
        dns.lookups.clear()
        connects.clear()
        with django_capture_on_commit_callbacks(execute=True):
            survey_services.response_record(touchpoint=touchpoint, score=9)
        return WebhookDelivery.objects.latest("pk")

    # The check sees the private address: refused, and nothing connects anywhere.
    refused = answer([["127.0.0.2"], ["127.0.0.1"]])
    assert (refused.status, dns.lookups["rebind.test"], connects) == ("failed", 1, [])
    # The check sees the allowed address: the connection goes there, not to a new answer.
    sent = answer([["127.0.0.1"], ["127.0.0.2"]])
    assert (dns.lookups["rebind.test"], connects) == (1, [("127.0.0.1", receiver.port)])
    assert (receiver.connections, elsewhere.connections) == (1, 0)
    if scheme == "http":
        assert sent.status == "sent"
        assert receiver.requests == [("/hooks", f"rebind.test:{receiver.port}")]
    else:  # a plain HTTP receiver: the TLS handshake fails, after the pinned connect
        assert sent.status == "pending" and "SSL" in sent.last_error


def test_a_host_that_stops_resolving_is_retried_not_failed(
    settings, touchpoint, dns, connects, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    dns.answers["hooks.example.com"] = [None]  # DNS down: it may come back
    delivery = _webhook_to(
        "https://hooks.example.com/in", django_capture_on_commit_callbacks, touchpoint
    )
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == (
        "Unresolvable: hooks.example.com does not resolve (Name or service not known): "
        "check the host name."
    )
    assert connects == []


# --- when saved ------------------------------------------------------------------------------------


def test_the_team_alert_admin_refuses_a_private_url_and_accepts_a_public_one(
    admin_client, team_a, connects
):
    form = {"team": team_a.pk, "webhook_url": "http://10.0.0.5/hook", "active": "on"}
    page = admin_client.post("/admin/cxhub/teamalert/add/", {**form, "new_detractors": "on"})
    assert page.status_code == 200
    assert (
        f"10.0.0.5 is a private address; to allow it, add 10.0.0.5 to {FIX}"
        in page.content.decode()
    )
    assert not TeamAlert.objects.exists()
    form["webhook_url"] = "https://93.184.215.14/services/T000/B000"
    page = admin_client.post("/admin/cxhub/teamalert/add/", form)
    assert page.status_code == 302, page.content.decode()
    assert TeamAlert.objects.get().webhook_url == "https://93.184.215.14/services/T000/B000"
    assert connects == []  # saving checks, it does not post


def test_a_saved_private_url_can_still_be_deactivated_but_not_changed_to_another(
    admin_client, team_a
):
    alert = TeamAlert.objects.create(team=team_a, webhook_url="http://10.0.0.5/hook")
    change = f"/admin/cxhub/teamalert/{alert.pk}/change/"
    form = {"team": team_a.pk, "webhook_url": "http://10.0.0.5/hook"}
    assert admin_client.post(change, form).status_code == 302
    alert.refresh_from_db()
    assert alert.active is False
    page = admin_client.post(change, {**form, "webhook_url": "http://10.0.0.6/hook"})
    assert page.status_code == 200
    assert "10.0.0.6 is a private address" in page.content.decode()


def test_the_team_alert_admin_refuses_a_host_that_does_not_resolve(admin_client, team_a, dns):
    dns.answers["hooks.slakc.com"] = [None]
    page = admin_client.post(
        "/admin/cxhub/teamalert/add/",
        {"team": team_a.pk, "webhook_url": "https://hooks.slakc.com/services/T0", "active": "on"},
    )
    assert page.status_code == 200
    assert "hooks.slakc.com does not resolve (Name or service not known): check the host name." in (
        page.content.decode()
    )
    assert not TeamAlert.objects.exists()


def test_the_webhook_endpoint_admin_refuses_the_cloud_metadata_address(client, cx_admin, dns):
    client.force_login(cx_admin)
    dns.answers["metadata.example"] = [["169.254.169.254"]]
    for url, refused in [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://metadata.example/", "metadata.example resolves to 169.254.169.254, a link-local"),
    ]:
        page = client.post(
            "/admin/cxhub/webhookendpoint/add/",
            {"url": url, "events": ["case.closed"], "active": "on"},
        )
        assert page.status_code == 200
        assert refused in page.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_webhook_endpoint_create_refuses_a_private_url(connects):
    with pytest.raises(outbound.Refused, match="10.0.0.5 is a private address"):
        webhooks.webhook_endpoint_create(url="http://10.0.0.5/in", events=["case.closed"])
    assert not WebhookEndpoint.objects.exists()


pytestmark = pytest.mark.django_db
