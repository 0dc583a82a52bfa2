"""The praise wall: promoter comments for everyone, with no customer contact details."""

from recognition import selectors
from recognition.models import PraiseExclusion
from surveys.privacy import scrub_comment

LEAKY = (
    "Sarah was great. Call me back on +33 6 11 22 33 44 or 06.11.22.33.44, "
    "or write to marie@example.net — Marie-Claire DUBOIS"
)


def test_praise_wall_shows_promoter_comments_without_contact_details(client, employee, promoter):
    promoter("Wonderful, quick and kind")
    promoter(LEAKY, score=9)
    promoter("Bad service", score=3, email="angry@example.net", name="Angry Person")
    promoter("Fine I guess", score=8, email="meh@example.net", name="Meh Person")
    client.force_login(employee)
    html = client.get("/champions/praise/").content.decode()
    assert "Wonderful, quick and kind" in html
    assert "Marie-Claire D." in html
    assert "Call me back on [hidden] or [hidden], or write to [hidden] — Marie-Claire D." in html
    for leak in (
        "Dubois",
        "DUBOIS",
        "marie@example.net",
        "+33611223344",
        "11 22 33 44",
        "Bad service",
        "Fine I guess",
        "Angry",
    ):
        assert leak not in html, leak


def test_the_praise_wall_never_reads_contact_details_from_the_database(promoter):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    promoter("Lovely")
    with CaptureQueriesContext(connection) as ctx:
        selectors.praise_wall()
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert '"surveys_person"."name"' in sql
    assert '"surveys_person"."email"' not in sql and '"surveys_person"."phone"' not in sql


def test_a_customer_without_a_name_is_a_customer(client, employee, promoter):
    promoter("Brilliant", name="", email="anon@example.net")
    client.force_login(employee)
    assert b"A customer" in client.get("/champions/praise/").content


def test_scrubbing_keeps_ordinary_words_and_short_particles():
    text = scrub_comment("le service de Le Goff: top, merci Goff!", customer_name="Jean Le Goff")
    assert text == "le service de Le G.: top, merci G.!"
    assert scrub_comment("Order 1234 ok", customer_name="Ann Li") == "Order 1234 ok"
    assert scrub_comment("merci, li", customer_name="Ann Li") == "merci, L."


def test_praise_older_than_30_local_days_is_not_shown(client, employee, promoter, time_machine):
    time_machine.move_to("2026-10-06 23:30 +02:00")
    promoter("Thirty-one days ago")
    time_machine.move_to("2026-10-07 00:30 +02:00")
    promoter("Thirty days ago")
    time_machine.move_to("2026-11-05 10:00 +01:00")
    client.force_login(employee)
    html = client.get("/champions/praise/").content.decode()
    assert "Thirty days ago" in html
    assert "Thirty-one days ago" not in html


def test_praise_is_newest_first_across_touchpoints(
    client, employee, promoter, touchpoint_b, time_machine
):
    from surveys import services as survey_services

    time_machine.move_to("2026-11-01 10:00 +01:00")
    promoter("first, support")
    time_machine.move_to("2026-11-02 10:00 +01:00")
    survey_services.response_record(touchpoint=touchpoint_b, score=10, comment="second, billing")
    time_machine.move_to("2026-11-03 10:00 +01:00")
    promoter("third, support")
    client.force_login(employee)
    praise = client.get("/champions/praise/").context["praise"]
    assert [p.comment for p in praise] == ["third, support", "second, billing", "first, support"]
    assert [p.touchpoint for p in praise] == ["Support call", "Billing", "Support call"]


def test_only_cx_admins_take_a_comment_off_the_wall(
    client, employee, lead_a, executive, cx_admin, promoter
):
    response = promoter("Please do not show this")
    for outsider in (employee, lead_a, executive):
        client.force_login(outsider)
        assert client.post(f"/champions/praise/{response.pk}/exclude/").status_code == 403
        assert b"Take off the wall" not in client.get("/champions/praise/").content
    client.force_login(cx_admin)
    assert b"Take off the wall" in client.get("/champions/praise/").content
    page = client.post(f"/champions/praise/{response.pk}/exclude/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"Taken off the praise wall" in page.content
    exclusion = PraiseExclusion.objects.get(response=response)
    assert exclusion.excluded_by == cx_admin
    assert b"Please do not show this" not in client.get("/champions/praise/").content
    assert b"Please do not show this" not in client.get("/").content
    # The response itself is untouched.
    response.refresh_from_db()
    assert response.comment == "Please do not show this"


def test_excluding_a_detractor_or_unknown_response_is_404(client, cx_admin, promoter):
    complaint = promoter("Awful", score=2, email="x@example.net", name="X Y")
    client.force_login(cx_admin)
    assert client.post(f"/champions/praise/{complaint.pk}/exclude/").status_code == 404
    assert client.post("/champions/praise/999999/exclude/").status_code == 404


def test_praise_wall_without_praise_says_so(client, employee):
    client.force_login(employee)
    assert b"No praise in the last 30 days yet" in client.get("/champions/praise/").content


def test_praise_wall_query_count_does_not_grow_with_touchpoints(
    client, employee, promoter, django_assert_max_num_queries
):
    from tests.factories import ResponseFactory, TouchpointFactory

    for i in range(8):
        ResponseFactory(touchpoint=TouchpointFactory(slug=f"tp-{i}"), score=10, comment=f"c{i}")
    client.force_login(employee)
    client.get("/champions/praise/")
    with django_assert_max_num_queries(6):
        page = client.get("/champions/praise/")
    assert len(page.context["praise"]) == 8


def test_the_praise_wall_pages_through_the_30_days_50_at_a_time(
    client, employee, touchpoint, touchpoint_b
):
    import datetime as dt

    from django.utils import timezone

    from tests.factories import ResponseFactory

    now = timezone.now()
    for i in range(55):  # two touchpoints, one comment an hour, newest first: "Praise 0"
        ResponseFactory(
            touchpoint=touchpoint if i % 2 else touchpoint_b,
            score=10,
            comment=f"Praise {i}.",
            created_at=now - dt.timedelta(hours=i),
        )
    client.force_login(employee)
    first = client.get("/champions/praise/")
    shown = first.content.decode()
    assert "Praise 0." in shown and "Praise 49." in shown and "Praise 50." not in shown
    older = first.context["older"]
    assert f'href="?before={older}"' in shown
    second = client.get(f"/champions/praise/?before={older}").content.decode()
    assert all(f"Praise {i}." in second for i in range(50, 55))
    assert "Praise 49." not in second and "Older praise" not in second and "Newest" in second
    assert client.get("/champions/praise/?before=%C2%B2").status_code == 400
    assert b"No older praise" in client.get("/champions/praise/?before=999999999").content
