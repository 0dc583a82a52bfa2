import datetime as dt

import pytest
from django.utils import timezone

from feedback.models import FollowUpCase
from surveys import services
from surveys.hooks import responses_recorded
from surveys.models import NpsDaily, Person, Response
from tests.factories import PersonFactory, ResponseFactory

pytestmark = pytest.mark.django_db

URL = "/api/responses/"
BATCH = "/api/responses/batch/"


def test_a_response_is_recorded_and_returned(write_api, touchpoint):
    response = write_api.post(
        URL,
        {
            "touchpoint": "support-call",
            "score": 10,
            "comment": " Great ",
            "properties": {"order": "A1"},
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    stored = Response.objects.get(pk=body["id"])
    assert (stored.score, stored.category, stored.comment) == (10, "promoter", "Great")
    assert body["touchpoint"] == "support-call" and body["category"] == "promoter"
    assert body["person"] is None
    assert body["properties"] is None and stored.properties == {"order": "A1"}  # no personal data


def test_without_personal_data_responses_and_invitations_hide_what_may_name_the_customer(
    read_api, admin_api, touchpoint
):
    from tests.factories import InvitationFactory, PersonFactory

    person = PersonFactory(name="Jean Dupont")
    invitation = InvitationFactory(touchpoint=touchpoint, person=person, properties={"vip": "y"})
    comment = "Dupont here: +33 6 12 34 56 78, jean.dupont@example.com"
    services.response_record(invitation=invitation, touchpoint=touchpoint, score=2, comment=comment)
    [shown] = read_api.get(URL).json()["results"]
    assert shown["comment"] == "D. here: [hidden], [hidden]"
    assert shown["properties"] is None and shown["person"] is None
    [listed] = read_api.get("/api/invitations/").json()["results"]
    assert listed["properties"] is None
    [full] = admin_api.get(URL).json()["results"]
    assert (full["comment"], full["properties"]) == (comment, {"vip": "y"})
    assert admin_api.get("/api/invitations/").json()["results"][0]["properties"] == {"vip": "y"}


def test_a_detractor_gets_its_case_in_the_same_request(write_api, touchpoint):
    body = write_api.post(URL, {"touchpoint": "support-call", "score": 2}, format="json").json()
    case = FollowUpCase.objects.get(response_id=body["id"])
    assert case.team_id == touchpoint.owner_team_id


def test_the_rollup_follows(write_api, touchpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        write_api.post(URL, {"touchpoint": "support-call", "score": 9}, format="json")
    day = NpsDaily.objects.get(touchpoint=touchpoint)
    assert day.promoters == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"touchpoint": "support-call", "score": 11}, "score"),
        ({"touchpoint": "support-call", "score": -1}, "score"),
        ({"touchpoint": "support-call", "score": "ten"}, "score"),
        ({"touchpoint": "support-call", "score": 7.5}, "score"),
        ({"touchpoint": "support-call", "score": True}, "score"),
        ({"touchpoint": "support-call"}, "score"),
        ({"touchpoint": "support-call", "score": 5, "comment": "x" * 5001}, "comment"),
        ({"touchpoint": "support-call", "score": 5, "comment": 12}, "comment"),
        ({"touchpoint": "support-call", "score": 5, "comment": "nul\x00"}, "comment"),
        ({"touchpoint": "nowhere", "score": 5}, "touchpoint"),
        ({"score": 5}, "touchpoint"),
        ({"touchpoint": "support-call", "score": 5, "channel": "fax"}, "channel"),
        ({"touchpoint": "support-call", "score": 5, "person": 999999}, "person"),
        ({"touchpoint": "support-call", "score": 5, "person": "me"}, "person"),
        ({"touchpoint": "support-call", "score": 5, "properties": [1]}, "properties"),
        ({"touchpoint": "support-call", "score": 5, "properties": {"a": "\x00"}}, "properties"),
        ({"touchpoint": "support-call", "score": 5, "created_at": "yesterday"}, "created_at"),
        (
            {"touchpoint": "support-call", "score": 5, "created_at": "0001-01-01T00:00:00Z"},
            "created_at",
        ),
        (
            {"touchpoint": "support-call", "score": 5, "created_at": "2999-01-01T00:00:00Z"},
            "created_at",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(write_api, touchpoint, body, field):
    response = write_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["status"] == 400
    assert field in error["errors"] and field in error["message"]
    assert all(isinstance(m, str) for m in error["errors"][field])
    assert not Response.objects.exists()


def test_a_comment_of_exactly_5000_characters_is_fine(write_api, touchpoint):
    response = write_api.post(
        URL, {"touchpoint": "support-call", "score": 5, "comment": "x" * 5000}, format="json"
    )
    assert response.status_code == 201


def test_a_body_that_is_not_an_object_is_a_400(write_api, touchpoint):
    assert write_api.post(URL, [1, 2], format="json").status_code == 400
    bad_json = write_api.post(URL, "{", content_type="application/json")
    assert bad_json.status_code == 400
    assert bad_json.json()["status"] == 400


def test_an_import_keeps_its_answer_time(write_api, touchpoint):
    when = (timezone.now() - dt.timedelta(days=3)).replace(microsecond=0)
    body = write_api.post(
        URL,
        {"touchpoint": "support-call", "score": 8, "created_at": when.isoformat()},
        format="json",
    ).json()
    assert Response.objects.get(pk=body["id"]).created_at == when


def test_a_known_person_is_linked(write_api, admin_api, touchpoint):
    person = PersonFactory()
    body = write_api.post(
        URL, {"touchpoint": "support-call", "score": 8, "person": person.pk}, format="json"
    ).json()
    assert body["person"] is None  # a write key reads no personal data back
    assert Response.objects.get(pk=body["id"]).person == person
    assert admin_api.get(f"{URL}{body['id']}/").json()["person"]["id"] == person.pk


def test_filtering_by_person_needs_personal_data(write_api, read_api, admin_api, touchpoint):
    """A write key learns a person's id by upserting an email it knows; it must not then
    find that customer's answers by it."""
    person = write_api.post("/api/people/", {"email": "victim@example.net"}, format="json").json()
    services.response_record(
        touchpoint=touchpoint, score=2, comment="Rude agent", person=Person.objects.get()
    )
    for client in (read_api, write_api):
        for url in (URL, "/api/invitations/"):
            refused = client.get(url, {"person": person["id"]})
            assert refused.status_code == 400 and "person" in refused.json()["errors"]
        [listed] = client.get(URL).json()["results"]
        assert listed["person"] is None
    assert [
        r["comment"] for r in admin_api.get(URL, {"person": person["id"]}).json()["results"]
    ] == ["Rude agent"]


# --- list and filters ---------------------------------------------------------------------


def _ids(response):
    assert response.status_code == 200, response.content
    return {r["id"] for r in response.json()["results"]}


def test_filters_by_touchpoint_category_days_and_updates(read_api, touchpoint, touchpoint_b):
    now = timezone.now()
    old = ResponseFactory(touchpoint=touchpoint, score=9, created_at=now - dt.timedelta(days=10))
    old.updated_at = now - dt.timedelta(days=10)
    old.save()
    fresh = ResponseFactory(touchpoint=touchpoint, score=2, created_at=now, updated_at=now)
    other = ResponseFactory(touchpoint=touchpoint_b, score=7, created_at=now, updated_at=now)
    today = timezone.localdate()
    assert _ids(read_api.get(URL)) == {old.pk, fresh.pk, other.pk}
    assert _ids(read_api.get(URL, {"touchpoint": "support-call"})) == {old.pk, fresh.pk}
    assert _ids(read_api.get(URL, {"category": "detractor"})) == {fresh.pk}
    assert _ids(read_api.get(URL, {"since": today.isoformat()})) == {fresh.pk, other.pk}
    until = (today - dt.timedelta(days=10)).isoformat()
    assert _ids(read_api.get(URL, {"until": until})) == {old.pk}
    since = (now - dt.timedelta(hours=1)).isoformat()
    assert _ids(read_api.get(URL, {"updated_since": since})) == {fresh.pk, other.pk}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "not-a-date"}, "since"),
        ({"since": "9999-12-31"}, "since"),
        ({"until": "0001-01-01"}, "until"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ({"category": "angry"}, "category"),
        ({"updated_since": "soon"}, "updated_since"),
    ],
)
def test_bad_filters_are_a_400(read_api, touchpoint, params, field):
    response = read_api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_lists_are_paginated_with_a_cursor(read_api, touchpoint):
    ResponseFactory.create_batch(7, touchpoint=touchpoint)
    seen = []
    url = URL + "?page_size=3"
    while url:
        page = read_api.get(url).json()
        assert len(page["results"]) <= 3
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7


def test_a_page_after_rows_were_added_repeats_none_and_previous_goes_back(
    read_api, write_api, touchpoint
):
    """A batch shares one created_at: DRF's offset cursor shifted with every row added
    meanwhile, so the next page repeated rows already read."""
    batch = [{"touchpoint": touchpoint.slug, "score": 9}] * 120
    assert write_api.post(BATCH, {"responses": batch}, format="json").status_code == 201
    first = read_api.get(URL + "?page_size=50").json()
    assert write_api.post(BATCH, {"responses": batch[:60]}, format="json").status_code == 201
    seen, url = [r["id"] for r in first["results"]], first["next"]
    while url:
        page = read_api.get(url).json()
        seen += [r["id"] for r in page["results"]]
        last, url = page, page["next"]
    assert len(seen) == len(set(seen)) == 120
    back = read_api.get(last["previous"]).json()
    assert [r["id"] for r in back["results"]] == seen[50:100]
    assert read_api.get(back["previous"]).json()["results"] == first["results"]


@pytest.mark.parametrize(
    "position",
    [
        b"p=2026-01-01T00:00:00+23:59|1",
        b"p=2026-01-01T00:00:00|1",
        b"p=9999-01-01T00:00:00+00:00|1",
        b"p=x|y",
        b"r=1",
    ],
)
def test_a_forged_cursor_is_a_400_on_the_cursor(read_api, touchpoint, position):
    import base64

    answer = read_api.get(URL, {"cursor": base64.b64encode(position).decode()})
    assert answer.status_code == 400 and answer.json()["errors"] == {"cursor": ["Invalid cursor."]}


def test_the_list_costs_a_fixed_number_of_queries(
    read_api, touchpoint, django_assert_max_num_queries
):
    for _ in range(20):
        ResponseFactory(touchpoint=touchpoint, person=PersonFactory())
    with django_assert_max_num_queries(4):
        assert read_api.get(URL).status_code == 200


def test_an_unknown_response_is_a_404(read_api):
    response = read_api.get(URL + "123456/")
    assert response.status_code == 404
    assert response.json()["status"] == 404


# --- batch --------------------------------------------------------------------------------


def test_a_batch_records_every_response_with_cases_for_detractors(
    write_api, touchpoint, touchpoint_b
):
    items = [
        {"touchpoint": "support-call", "score": s % 11, "comment": f"c{s}"} for s in range(100)
    ]
    items.append({"touchpoint": "billing", "score": 0})
    response = write_api.post(BATCH, {"responses": items}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 101 and len(body["ids"]) == 101
    rows = Response.objects.in_bulk(body["ids"])
    assert [rows[i].score for i in body["ids"]] == [s % 11 for s in range(100)] + [0]
    detractors = Response.objects.filter(category="detractor")
    assert FollowUpCase.objects.count() == detractors.count() > 0
    assert not detractors.filter(case__isnull=True).exists()


def test_a_batch_sends_the_bulk_recorded_signal_once_and_one_rollup_per_day(
    write_api, touchpoint, django_capture_on_commit_callbacks, monkeypatch
):
    seen = []

    def listener(sender, responses, **kwargs):
        seen.append([r.pk for r in responses])

    responses_recorded.connect(listener)
    scheduled = []
    from surveys import services

    real = services.rollup_schedule_on_commit
    monkeypatch.setattr(
        services,
        "rollup_schedule_on_commit",
        lambda **kw: (scheduled.append(kw), real(**kw))[1],
    )
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()
    items = [{"touchpoint": "support-call", "score": 9} for _ in range(5)]
    items += [{"touchpoint": "support-call", "score": 3, "created_at": yesterday} for _ in range(2)]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            body = write_api.post(BATCH, {"responses": items}, format="json").json()
    finally:
        responses_recorded.disconnect(listener)
    assert seen == [body["ids"]]
    assert len(scheduled) == 2
    assert sum(d.promoters + d.detractors for d in NpsDaily.objects.all()) == 7


def test_a_batch_with_any_bad_item_writes_nothing_and_names_each_error(write_api, touchpoint):
    items = [{"touchpoint": "support-call", "score": 9} for _ in range(5)]
    items[1]["score"] = 11
    items[3] = {"touchpoint": "nowhere", "score": 5, "comment": "x" * 5001}
    items.append("not an object")
    response = write_api.post(BATCH, {"responses": items}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["responses"]
    assert set(errors) == {"1", "3", "5"}
    assert set(errors["1"]) == {"score"}
    assert set(errors["3"]) == {"touchpoint", "comment"}
    assert "non_field_errors" in errors["5"]
    assert not Response.objects.exists()


def test_a_batch_is_rolled_back_when_a_receiver_fails(write_api, touchpoint):
    def explode(sender, responses, **kwargs):
        if any(r.score == 0 for r in responses):
            raise RuntimeError("boom")

    responses_recorded.connect(explode)
    try:
        with pytest.raises(RuntimeError):
            write_api.post(
                BATCH,
                {"responses": [{"touchpoint": "support-call", "score": s} for s in (9, 0)]},
                format="json",
            )
    finally:
        responses_recorded.disconnect(explode)
    assert not Response.objects.exists()
    assert not FollowUpCase.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"responses": []},
        {"responses": "many"},
        [],
        {"responses": [{"touchpoint": "support-call", "score": 1}] * 1001},
    ],
)
def test_a_batch_needs_one_to_a_thousand_items(write_api, touchpoint, body):
    response = write_api.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert "responses" in response.json()["errors"]
    assert not Response.objects.exists()


def test_a_batch_of_a_thousand_is_accepted(write_api, touchpoint):
    items = [{"touchpoint": "support-call", "score": 9} for _ in range(1000)]
    response = write_api.post(BATCH, {"responses": items}, format="json")
    assert response.status_code == 201
    assert Response.objects.count() == 1000


def test_a_batch_does_for_each_response_what_a_single_answer_does(
    write_api, touchpoint, manager_a, django_capture_on_commit_callbacks, monkeypatch
):
    """Cases for detractors, recovered cases for promoters, team alerts, webhooks and
    shout-out suggestions: the bulk announcement misses none of them."""
    from cxhub import webhooks
    from cxhub.models import AlertDelivery, TeamAlert, WebhookDelivery
    from cxhub.services import team_alerts_forget
    from feedback import services as feedback_services
    from feedback.models import RootCause
    from recognition import receivers as recognition_receivers
    from surveys import services as survey_services

    person = PersonFactory(email="back@example.net")
    earlier = survey_services.response_record(touchpoint=touchpoint, score=2, person=person)
    old_case = FollowUpCase.objects.get(response=earlier)
    feedback_services.case_close(
        case=old_case,
        by=manager_a,
        outcome="resolved",
        root_causes=[RootCause.objects.create(name="Slow refund")],
        resolution="Refunded",
    )
    TeamAlert.objects.create(team=touchpoint.owner_team, webhook_url="http://127.0.0.1:9/alert")
    team_alerts_forget()
    webhooks.webhook_endpoint_create(
        url="http://127.0.0.1:9/hook", events=["survey_response.created"]
    )
    suggested = []
    monkeypatch.setattr(
        recognition_receivers,
        "enqueue_debounced_on_commit",
        lambda task, *args, **kwargs: suggested.append(task.name),
    )
    items = [
        {"touchpoint": "support-call", "score": 1, "comment": "Nobody called back"},
        {"touchpoint": "support-call", "score": 4},
        {
            "touchpoint": "support-call",
            "score": 10,
            "comment": "Mia was great",
            "person": person.pk,
        },
        {"touchpoint": "support-call", "score": 8},
    ]
    with django_capture_on_commit_callbacks(execute=False):
        body = write_api.post(BATCH, {"responses": items}, format="json").json()
    ids = body["ids"]
    assert set(
        FollowUpCase.objects.filter(response_id__in=ids).values_list("response_id", flat=True)
    ) == {
        ids[0],
        ids[1],
    }
    case = FollowUpCase.objects.get(response_id=ids[0])
    assert (case.status, case.team_id, case.priority) == ("new", touchpoint.owner_team_id, 3)
    old_case.refresh_from_db()
    assert old_case.recovered_at is not None
    assert AlertDelivery.objects.count() == 2  # one per new detractor
    assert WebhookDelivery.objects.filter(event="survey_response.created").count() == 4
    assert suggested == ["recognition.tasks.shoutouts_suggest_recent"]
    webhooks.webhook_endpoints_forget()
    team_alerts_forget()


def test_a_time_with_an_offset_postgresql_refuses_is_stored_as_the_same_instant(
    write_api, read_api, touchpoint
):
    """ISO 8601 allows offsets up to ±23:59, PostgreSQL up to ±15:59: times are taken
    in UTC, so such a response is stored (it was a 201 for a row that was never kept)."""
    for score in (9, 2):  # a detractor also opens its case in the same transaction
        created = write_api.post(
            URL,
            {
                "touchpoint": "support-call",
                "score": score,
                "created_at": "2026-06-01T10:00:00-16:00",
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        stored = Response.objects.get(pk=created.json()["id"])
        assert stored.created_at == dt.datetime(2026, 6, 2, 2, 0, tzinfo=dt.UTC)
    since = read_api.get(URL, {"updated_since": "2026-06-01T10:00:00-23:59"})
    assert since.status_code == 200 and len(since.json()["results"]) == 2


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"touchpoint": "support-call", "score": 9, "comment": "\\ud800"}', "lone surrogate"),
        ('{"touchpoint": "\\udfff", "score": 9}', "lone surrogate"),
        ('{"touchpoint": "support-call", "score": 9, "properties": {"\\ud800": 1}}', "surrogate"),
        ('{"touchpoint": "support-call", "score": 9, "properties": {"a": 1e400}}', "out of range"),
        ('{"touchpoint": "support-call", "score": 9, "properties": {"a": NaN}}', "NaN"),
        (
            '{"touchpoint": "support-call", "score": 9, "properties": '
            + '{"k": ' * 40
            + "1"
            + "}" * 41,
            "nested",
        ),
        ("[" * 100_000, "nested"),
    ],
)
def test_json_that_cannot_be_stored_is_a_400_and_nothing_is_written(
    write_api, touchpoint, raw, says
):
    for url in (URL, f"{URL}batch/"):
        body = raw if url == URL or raw.startswith("[") else '{"responses": [' + raw + "]}"
        answer = write_api.post(url, body, content_type="application/json")
        assert answer.status_code == 400, (url, answer.content)
        assert answer.json()["status"] == 400 and says in answer.json()["message"]
    assert not Response.objects.exists()


def test_an_emoji_escaped_as_a_surrogate_pair_is_fine(write_api, touchpoint):
    answer = write_api.post(
        URL,
        '{"touchpoint": "support-call", "score": 10, "comment": "Great \\ud83d\\ude00"}',
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    assert Response.objects.get().comment == "Great 😀"
