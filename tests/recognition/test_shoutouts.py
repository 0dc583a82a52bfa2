"""Customer shout-outs: a promoter comment that names an employee becomes a postcard
"from the customer" that the employee's team lead publishes in one click."""

import datetime as dt

import pytest
from django.core import mail

from recognition import receivers, services
from recognition.models import Postcard, PraiseExclusion, Profile, ShoutOut
from surveys import services as survey_services
from surveys.models import Response


def candidates(shoutout):
    return set(shoutout.candidates.all())


def test_a_comment_naming_an_employee_proposes_a_postcard_to_their_lead(
    promoter, staff, team_a, lead_a
):
    sarah = staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez on the phone was brilliant!")
    shoutout = ShoutOut.objects.get(response=response)
    assert candidates(shoutout) == {sarah}
    assert (shoutout.lead, shoutout.status, shoutout.matched_name) == (
        lead_a,
        "pending",
        "sarah lopez",
    )


def test_the_lead_of_the_named_employees_team_gets_it_whatever_the_touchpoint(
    promoter, staff, team_a, team_b, lead_a
):
    lead_b = staff("lara", "Lara", "Lead", team_b, role="lead")
    team_b.lead = lead_b
    team_b.save()
    staff("karim", "Karim", "Bernard", team_b)
    promoter("Karim Bernard sorted my bill")  # a Support touchpoint, a Billing employee
    assert ShoutOut.objects.get().lead == lead_b


def test_accents_and_case_do_not_stop_a_match(promoter, staff, team_a, lead_a):
    chloe = staff("chloe", "Chloé", "Dupont", team_a)
    promoter("merci à CHLOE dupont !")
    assert candidates(ShoutOut.objects.get()) == {chloe}


def test_a_nickname_the_employee_set_matches(client, promoter, staff, team_a, lead_a):
    ben = staff("benjamin", "Benjamin", "Roux", team_a)
    client.force_login(ben)
    client.post("/champions/me/", {"nickname": "Benji"})
    assert Profile.objects.get(user=ben).nickname == "Benji"
    promoter("Benji fixed everything in minutes")
    assert candidates(ShoutOut.objects.get()) == {ben}


def test_a_name_matching_several_people_is_listed_not_guessed(
    client, promoter, staff, team_a, team_b, lead_a
):
    one = staff("tom1", "Tom", "Martin", team_a)
    two = staff("tom2", "Tom", "Martin", team_b)
    promoter("Tom Martin was great")
    shoutout = ShoutOut.objects.get()
    assert candidates(shoutout) == {one, two}
    assert shoutout.lead == lead_a  # several teams: the touchpoint team's lead chooses
    client.force_login(lead_a)
    page = client.get("/champions/shout-outs/").content.decode()
    assert "fits 2 colleagues" in page
    assert f'value="{one.pk}"' in page and f'value="{two.pk}"' in page
    refused = client.post(f"/champions/shout-outs/{shoutout.pk}/publish/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    assert b"choose who the customer meant" in refused.content
    assert Postcard.objects.count() == 0
    chosen = client.post(
        f"/champions/shout-outs/{shoutout.pk}/publish/",
        {"recipient": two.pk},
        HTTP_HX_REQUEST="true",
    )
    assert chosen.status_code == 200
    assert Postcard.objects.get().recipient == two


def test_a_nickname_shared_with_a_name_lists_both(promoter, staff, team_a, lead_a):
    sam = staff("sam", "Samuel", "Roy", team_a)
    other = staff("sami", "Sami", "Haddad", team_a)
    Profile.objects.create(user=other, nickname="Samuel Roy")
    promoter("Samuel Roy helped me")
    assert candidates(ShoutOut.objects.get()) == {sam, other}


def test_a_recipient_outside_the_candidates_is_refused(
    client, promoter, staff, team_a, lead_a, manager_a
):
    staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah Lopez was brilliant")
    shoutout = ShoutOut.objects.get()
    client.force_login(lead_a)
    page = client.post(
        f"/champions/shout-outs/{shoutout.pk}/publish/",
        {"recipient": manager_a.pk},
        HTTP_HX_REQUEST="true",
    )
    assert page.status_code == 400
    assert Postcard.objects.count() == 0


def test_no_match_first_names_alone_and_non_promoters_propose_nothing(
    promoter, staff, team_a, lead_a
):
    staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah was nice")
    promoter("Great shop, nobody named")
    promoter("Lopezsarah lopezia")
    promoter("Sarah Lopez was rude", score=4, email="rude@example.net", name="R S")
    promoter("Sarah Lopez was fine", score=8, email="fine@example.net", name="F S")
    assert ShoutOut.objects.count() == 0


def test_the_full_name_wins_over_a_nickname_inside_it(promoter, staff, team_a, lead_a):
    sarah = staff("sarah", "Sarah", "Lopez", team_a)
    other = staff("sal", "Salome", "Petit", team_a)
    Profile.objects.create(user=other, nickname="Sarah")
    promoter("Sarah Lopez was brilliant")
    assert candidates(ShoutOut.objects.get()) == {sarah}


def test_the_lead_publishes_in_one_click_and_only_once(
    client, promoter, staff, team_a, lead_a, django_capture_on_commit_callbacks
):
    sarah = staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah Lopez was brilliant. Call me: +33 6 11 22 33 44. Marie-Claire Dubois")
    shoutout = ShoutOut.objects.get()
    client.force_login(lead_a)
    listing = client.get("/champions/shout-outs/").content.decode()
    assert "Sarah Lopez" in listing and "Dubois" not in listing and "11 22 33" not in listing
    assert f'hx-post="/champions/shout-outs/{shoutout.pk}/publish/"' in listing
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(f"/champions/shout-outs/{shoutout.pk}/publish/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"Published" in page.content and b"<html" not in page.content
    postcard = Postcard.objects.get()
    assert (postcard.recipient, postcard.sender, postcard.from_customer) == (sarah, lead_a, True)
    assert postcard.response_id == shoutout.response_id
    assert postcard.message.startswith("Marie-Claire D. wrote: “Sarah Lopez was brilliant.")
    assert "Dubois" not in postcard.message and "11 22 33" not in postcard.message
    assert [m.to for m in mail.outbox] == [[sarah.email]]  # the lead published it: no email to self
    shoutout.refresh_from_db()
    assert (shoutout.status, shoutout.postcard, shoutout.decided_by) == (
        "published",
        postcard,
        lead_a,
    )
    again = client.post(f"/champions/shout-outs/{shoutout.pk}/publish/", HTTP_HX_REQUEST="true")
    assert again.status_code == 400
    assert b"already handled" in again.content
    assert Postcard.objects.count() == 1
    assert b"from a customer" in client.get("/champions/").content


def test_shout_outs_do_not_count_against_the_leads_daily_cap(
    promoter, staff, team_a, lead_a, send, employee, settings
):
    settings.POSTCARD_DAILY_CAP = 1
    send(lead_a, employee)
    staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah Lopez was brilliant")
    services.shoutout_publish(shoutout=ShoutOut.objects.get(), by=lead_a)
    assert Postcard.objects.count() == 2


def test_only_the_lead_it_was_proposed_to_may_see_publish_or_dismiss(
    client, promoter, staff, team_a, team_b, lead_a, manager_a, employee, cx_admin
):
    staff("sarah", "Sarah", "Lopez", team_a)
    other_lead = staff("lara", "Lara", "Lead", team_b, role="lead")
    promoter("Sarah Lopez was brilliant")
    shoutout = ShoutOut.objects.get()
    for outsider in (manager_a, employee, other_lead, cx_admin):
        client.force_login(outsider)
        for action in ("publish", "dismiss"):
            url = f"/champions/shout-outs/{shoutout.pk}/{action}/"
            assert client.post(url).status_code == 404, (outsider, action)
        assert b"Sarah Lopez was brilliant" not in client.get("/champions/shout-outs/").content
        with pytest.raises(services.RecognitionError):
            services.shoutout_publish(shoutout=shoutout, by=outsider)
    assert Postcard.objects.count() == 0
    assert ShoutOut.objects.get().status == "pending"


def test_the_lead_may_dismiss_a_false_match(client, promoter, staff, team_a, lead_a):
    staff("rose", "Rose", "Garden", team_a)
    promoter("The rose garden outside was lovely")
    shoutout = ShoutOut.objects.get()
    client.force_login(lead_a)
    page = client.post(f"/champions/shout-outs/{shoutout.pk}/dismiss/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"Dismissed" in page.content
    assert Postcard.objects.count() == 0
    assert b"No shout-outs waiting for you" in client.get("/champions/shout-outs/").content


def test_an_excluded_comment_cannot_be_published(promoter, staff, team_a, lead_a, cx_admin):
    staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez was brilliant")
    PraiseExclusion.objects.create(response=response, excluded_by=cx_admin)
    with pytest.raises(services.RecognitionError, match="took this comment off"):
        services.shoutout_publish(shoutout=ShoutOut.objects.get(), by=lead_a)


def test_suggesting_twice_creates_nothing_new(promoter, staff, team_a, lead_a):
    staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez was brilliant")
    assert services.shoutouts_suggest(response_id=response.pk) == []
    assert services.shoutouts_suggest_sweep() == 0
    assert ShoutOut.objects.count() == 1


def test_the_sweeper_suggests_what_a_lost_task_left_undone(
    promoter, staff, team_a, lead_a, monkeypatch
):
    staff("sarah", "Sarah", "Lopez", team_a)
    monkeypatch.setattr(receivers, "enqueue_debounced_on_commit", lambda *a, **k: None)  # lost
    promoter("Sarah Lopez was brilliant")
    assert ShoutOut.objects.count() == 0
    assert services.shoutouts_suggest_sweep() == 1
    assert ShoutOut.objects.count() == 1


def test_the_receiver_enqueues_only_for_promoters_with_a_comment(
    touchpoint, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = []
    monkeypatch.setattr(
        receivers,
        "enqueue_debounced_on_commit",
        lambda task, *args, window: enqueued.append((task.name, args, window)),
    )
    cases = [(10, "Lovely"), (9, ""), (9, "   "), (8, "Fine"), (2, "Awful")]
    for s, c in cases:
        survey_services.response_record(touchpoint=touchpoint, score=s, comment=c)
    assert enqueued == [("recognition.tasks.shoutouts_suggest_recent", (), 3)]


def test_a_burst_of_promoter_comments_publishes_one_task_per_window(
    touchpoint, settings, monkeypatch, request, django_capture_on_commit_callbacks
):
    """With a broker, the survey POST publishes no message per answer: the matching
    runs once per debounce window and covers every comment of the burst."""
    from cxhub import queue
    from recognition import tasks

    published = []
    conf = tasks.shoutouts_suggest_recent.app.conf
    eager = conf.task_always_eager
    conf.task_always_eager = False
    request.addfinalizer(lambda: setattr(conf, "task_always_eager", eager))
    monkeypatch.setattr(
        queue,
        "publish",
        lambda task, *args, countdown=None: published.append((task.name, countdown)) or True,
    )
    for i in range(20):
        with django_capture_on_commit_callbacks(execute=True):
            survey_services.response_record(touchpoint=touchpoint, score=10, comment=f"Lovely {i}")
    matching = [p for p in published if p[0] == tasks.shoutouts_suggest_recent.name]
    assert matching == [(tasks.shoutouts_suggest_recent.name, settings.SHOUTOUT_DEBOUNCE_SECONDS)]


def test_the_recent_scan_covers_comments_since_the_last_run_and_runs_twice_safely(
    promoter, staff, team_a, lead_a, monkeypatch, time_machine
):
    staff("sarah", "Sarah", "Lopez", team_a)
    staff("omar", "Omar", "Haddad", team_a)
    monkeypatch.setattr(receivers, "enqueue_debounced_on_commit", lambda *a, **k: None)
    time_machine.move_to(dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC), tick=False)
    promoter("Sarah Lopez was brilliant")
    assert services.shoutouts_suggest_recent() == 1
    time_machine.shift(dt.timedelta(minutes=5))
    promoter("Omar Haddad sorted it out")
    assert services.shoutouts_suggest_recent() == 1  # only the new one is new
    assert services.shoutouts_suggest_recent() == 0  # a second delivery makes nothing
    assert ShoutOut.objects.count() == 2


def test_the_receiver_never_fails_the_survey(touchpoint, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("broker exploded")

    monkeypatch.setattr(receivers, "enqueue_debounced_on_commit", broken)
    response = survey_services.response_record(touchpoint=touchpoint, score=10, comment="Great")
    assert Response.objects.filter(pk=response.pk).exists()
    assert "could not schedule shout-out suggestions" in caplog.text


def test_the_receiver_is_connected_once(db):
    from surveys.hooks import response_recorded

    uids = [lookup_key[0] for lookup_key, *_ in response_recorded.receivers]
    assert uids.count("recognition.suggest_shoutouts") == 1


def test_the_dashboard_panel_tells_a_lead_about_waiting_shout_outs(
    promoter, staff, team_a, lead_a, employee
):
    from django.template.loader import render_to_string

    from recognition import selectors

    staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah Lopez was brilliant")
    panel = selectors.dashboard_panel(user=lead_a)
    assert panel["pending_shoutouts"] == 1
    html = render_to_string("recognition/_dashboard_panel.html", {"panel": panel})
    assert "1 customer shout-out waiting for you" in html
    assert selectors.dashboard_panel(user=employee)["pending_shoutouts"] == 0


def test_erasing_the_customer_removes_their_words_from_postcards_and_pending_shout_outs(
    client, promoter, staff, team_a, lead_a, send
):
    from recognition.models import PostcardCount

    sarah = staff("sarah", "Sarah", "Lopez", team_a)
    tom = staff("tom", "Tom", "Martin", team_a)
    promoter("Sarah Lopez was brilliant, thank you!")
    published = services.shoutout_publish(shoutout=ShoutOut.objects.get(), by=lead_a)
    promoter("Tom Martin fixed it in minutes")  # still waiting for the lead
    colleague = send(lead_a, tom, "Great save on Marie-Claire's order")
    counts_before = sorted(
        PostcardCount.objects.values_list("recipient_id", "period", "start", "received")
    )
    person = Response.objects.filter(comment__startswith="Tom").get().person

    survey_services.person_erase(person=person)

    published.refresh_from_db()
    assert published.message == services.ERASED_PRAISE
    assert "brilliant" not in published.message and published.hidden_at is None
    assert not ShoutOut.objects.filter(status=ShoutOut.Status.PENDING).exists()
    assert ShoutOut.objects.get().status == ShoutOut.Status.PUBLISHED  # the record stays
    colleague.refresh_from_db()
    assert colleague.message == "Great save on Marie-Claire's order"  # a colleague's words
    # The recipient keeps the postcard: the leaderboards do not move.
    assert sorted(
        PostcardCount.objects.values_list("recipient_id", "period", "start", "received")
    ) == (counts_before)
    client.force_login(sarah)
    feed = client.get("/champions/").content.decode()
    assert "brilliant" not in feed and "erased at the customer" in feed


def test_thanking_a_colleague_for_praise_that_names_them_has_them_chosen(
    client, promoter, staff, team_a, lead_a, employee
):
    sarah = staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez on the phone was brilliant!")
    client.force_login(employee)
    page = client.get(f"/champions/send/?response={response.pk}")
    assert page.status_code == 200
    assert page.context["form"]["recipient"].value() == sarah.pk
    # Praise naming no one, or two colleagues: the sender chooses.
    staff("samir", "Samir", "Haddad", team_a)
    two = promoter("Sarah Lopez and Samir Haddad were both great")
    none = promoter("Quick and friendly, thank you")
    for other in (two, none):
        form = client.get(f"/champions/send/?response={other.pk}").context["form"]
        assert form["recipient"].value() is None
    # A praise that is no longer one (the customer changed it to a 2) names no one.
    survey_services.response_update(response=response, score=2, comment="Sarah was rude")
    form = client.get(f"/champions/send/?response={response.pk}").context["form"]
    assert form["recipient"].value() is None
    survey_services.response_update(response=response, score=10, comment=response.comment)
    # Sarah thanking a colleague for her own praise is not offered herself.
    client.force_login(sarah)
    form = client.get(f"/champions/send/?response={response.pk}").context["form"]
    assert form["recipient"].value() is None


def test_praise_naming_the_lead_goes_to_a_cx_admin_not_to_the_lead(
    client, promoter, team_a, lead_a, cx_admin
):
    """No one decides on praise about themselves: a lead named by a customer (even by
    a nickname as common as a word) would otherwise publish postcards to themselves."""
    response = promoter("Leo Lead was brilliant")
    shoutout = ShoutOut.objects.get(response=response)
    assert (shoutout.lead, candidates(shoutout)) == (cx_admin, {lead_a})
    from recognition import selectors

    assert selectors.dashboard_panel(user=lead_a)["pending_shoutouts"] == 0
    assert selectors.dashboard_panel(user=cx_admin)["pending_shoutouts"] == 1
    client.force_login(lead_a)
    assert b"Leo Lead was brilliant" not in client.get("/champions/shout-outs/").content
    client.force_login(cx_admin)
    assert b"Leo Lead was brilliant" in client.get("/champions/shout-outs/").content
    postcard = services.shoutout_publish(shoutout=shoutout, by=cx_admin)
    assert (postcard.sender, postcard.recipient) == (cx_admin, lead_a)


def test_praise_naming_a_lead_goes_to_the_touchpoint_teams_lead_when_that_is_someone_else(
    promoter, staff, team_a, team_b, lead_a, cx_admin
):
    lead_b = staff("lara", "Lara", "Lead", team_b, role="lead")
    team_b.lead = lead_b
    team_b.save()
    promoter("Lara Lead sorted my bill")  # a Support touchpoint: team_a's lead decides
    assert ShoutOut.objects.get().lead == lead_a


def test_a_lead_cannot_publish_praise_to_themselves(promoter, staff, team_a, lead_a):
    """Even for a shout-out made before the rule (or a name the lead shares)."""
    response = promoter("Leo Lead was brilliant")
    shoutout = ShoutOut.objects.create(response=response, matched_name="leo lead", lead=lead_a)
    shoutout.candidates.set([lead_a])
    with pytest.raises(services.RecognitionError, match="may be about you"):
        services.shoutout_publish(shoutout=shoutout, by=lead_a)
    assert Postcard.objects.count() == 0


def test_taking_a_comment_off_the_wall_dismisses_its_shout_outs_and_stops_new_ones(
    client, promoter, staff, team_a, lead_a, cx_admin
):
    from recognition import selectors

    staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez was brilliant")
    services.praise_exclude(response=response, by=cx_admin)
    assert ShoutOut.objects.get().status == ShoutOut.Status.DISMISSED
    assert selectors.dashboard_panel(user=lead_a)["pending_shoutouts"] == 0
    client.force_login(lead_a)
    assert b"Sarah Lopez was brilliant" not in client.get("/champions/shout-outs/").content
    ShoutOut.objects.all().delete()  # as if the scan had not run before the exclusion
    assert services.shoutouts_suggest(response_id=response.pk) == []


def test_a_customer_who_changed_their_answer_leaves_no_shout_out_waiting(
    client, promoter, staff, team_a, lead_a
):
    from recognition import selectors

    staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez was brilliant")
    survey_services.response_update(response=response, score=7, comment="meh, it was ok")
    assert selectors.dashboard_panel(user=lead_a)["pending_shoutouts"] == 0
    client.force_login(lead_a)
    page = client.get("/champions/shout-outs/")
    assert b"meh, it was ok" not in page.content and b"No shout-outs waiting" in page.content


def test_the_shout_outs_page_shows_the_newest_50_and_says_how_many_wait(
    client, promoter, staff, team_a, lead_a
):
    staff("sarah", "Sarah", "Lopez", team_a)
    for i in range(52):
        promoter(f"Sarah Lopez was brilliant ({i})", email=f"c{i}@example.net")
    client.force_login(lead_a)
    page = client.get("/champions/shout-outs/").content.decode()
    assert "The newest 50 of 52 waiting" in page
    assert "brilliant (51)" in page and "brilliant (1)" not in page


def test_the_shout_out_admin_list_costs_the_same_queries_for_2_or_12_rows(
    client, promoter, staff, team_a, lead_a, cx_admin
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    staff("sarah", "Sarah", "Lopez", team_a)
    cx_admin.is_superuser = True
    cx_admin.save()
    client.force_login(cx_admin)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/admin/recognition/shoutout/").status_code == 200
        return len(ctx)

    for i in range(2):
        promoter(f"Sarah Lopez was brilliant ({i})", email=f"a{i}@example.net")
    ShoutOut.objects.update(decided_by=lead_a)
    few = queries()
    for i in range(10):
        promoter(f"Sarah Lopez was brilliant ({i})", email=f"b{i}@example.net")
    ShoutOut.objects.update(decided_by=lead_a)
    assert queries() == few
