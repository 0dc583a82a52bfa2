"""The responses list links a detractor's response to its follow-up case."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys import selectors as survey_selectors
from surveys.models import Response


def test_a_detractors_response_links_to_its_case(client, record, cx_admin, touchpoint):
    detractor = record(touchpoint, 2, comment="Never again")
    promoter = record(touchpoint, 10, comment="Lovely")
    client.force_login(cx_admin)
    text = client.get("/responses/").content.decode()
    case = detractor.case
    row = text[text.index(f'data-response="{detractor.pk}"') :].split("</tr>")[0]
    assert f'<a class="small" href="/cases/{case.pk}/">Case #{case.pk}</a>' in row
    row = text[text.index(f'data-response="{promoter.pk}"') :].split("</tr>")[0]
    assert "Case #" not in row


def test_the_links_cost_one_query_whatever_the_number_of_rows(
    client, record, cx_admin, touchpoint, touchpoint_b
):
    client.force_login(cx_admin)
    for score in (1, 9, 3):
        record(touchpoint, score)
    client.get("/responses/")  # warm per-process lookups
    with CaptureQueriesContext(connection) as few:
        text = client.get("/responses/").content.decode()
    assert text.count(">Case #") == 2
    for score in (0, 2, 4, 6, 8, 10, 5, 1, 3, 7):
        record(touchpoint_b if score % 2 else touchpoint, score)
    with CaptureQueriesContext(connection) as many:
        text = client.get("/responses/").content.decode()
    assert text.count(">Case #") == 2 + 7
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_links_are_only_to_cases_the_user_may_open(
    record, touchpoint, touchpoint_b, manager_a, manager_b, employee, executive, cx_admin
):
    ours, theirs = record(touchpoint, 2), record(touchpoint_b, 3)
    ids = [ours.pk, theirs.pk]

    def linked(user):
        return {
            rid: [link["label"] for link in links]
            for rid, links in survey_selectors.response_links_for(
                user=user, response_ids=ids
            ).items()
        }

    assert linked(manager_a) == {ours.pk: [f"Case #{ours.case.pk}"]}
    assert linked(manager_b) == {theirs.pk: [f"Case #{theirs.case.pk}"]}
    assert linked(employee) == {} and linked(executive) == {}
    assert set(linked(cx_admin)) == set(ids)
    assert Response.objects.count() == 2
