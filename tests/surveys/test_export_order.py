"""The responses CSV export lists the answers in the responses page's order."""

import datetime as dt
import re

from django.core.management import call_command

from surveys import services
from tests.surveys.test_exports import NOW, _now, download, parsed  # noqa: F401 - fixture


def answers(touchpoint, touchpoint_b):
    """Answers recorded out of time order, two of them at the same moment."""
    made = []
    for days_ago, tp in ((3, touchpoint), (0, touchpoint_b), (9, touchpoint), (1, touchpoint)):
        made.append(
            services.response_record(
                touchpoint=tp,
                score=days_ago,
                comment=f"{days_ago} days ago",
                created_at=NOW - dt.timedelta(days=days_ago),
            )
        )
    same = NOW - dt.timedelta(days=1)
    made.append(services.response_record(touchpoint=touchpoint_b, score=5, created_at=same))
    return made


def test_the_export_is_newest_first_like_the_responses_page(
    client, cx_admin, touchpoint, touchpoint_b
):
    made = answers(touchpoint, touchpoint_b)
    client.force_login(cx_admin)
    rows = parsed(download(client))
    newest_first = sorted(made, key=lambda r: (r.created_at, r.pk), reverse=True)
    assert [r["source_key"] for r in rows] == [f"cxhub:{r.pk}" for r in newest_first]
    page = client.get("/responses/").content.decode()
    on_page = re.findall(r"\d+ days ago", page)
    assert on_page == [r.comment for r in newest_first if r.comment]
    filtered = parsed(download(client, f"?touchpoint={touchpoint.slug}"))
    assert [r["source_key"] for r in filtered] == [
        f"cxhub:{r.pk}" for r in newest_first if r.touchpoint == touchpoint
    ]


def test_the_export_command_is_newest_first_too(touchpoint, touchpoint_b, tmp_path):
    made = answers(touchpoint, touchpoint_b)
    target = tmp_path / "out.csv"
    call_command("export_responses", output=str(target))
    rows = parsed(target.read_text())
    newest_first = sorted(made, key=lambda r: (r.created_at, r.pk), reverse=True)
    assert [r["source_key"] for r in rows] == [f"cxhub:{r.pk}" for r in newest_first]
