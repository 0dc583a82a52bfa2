"""The admin index names the organisation's models as people say them."""


def test_the_admin_index_says_nps_breaches_not_nps_breachs(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "NPS breaches" in html
    assert "Nps breach" not in html


def test_every_organisation_model_in_the_admin_index_has_a_proper_plural(admin_client):
    html = admin_client.get("/admin/").content.decode()
    section = html.split('class="app-cxhub')[1].split("</table>")[0]
    for name in (
        "Teams",
        "Memberships",
        "Digest preferences",
        "Digest deliveries",
        "Team alerts",
        "Alert deliveries",
        "NPS breaches",
        "API keys",
        "Webhook endpoints",
        "Webhook deliveries",
    ):
        assert f">{name}</a>" in section, name


def test_cases_and_shout_outs_are_named_as_the_product_names_them(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert ">Follow-up cases</a>" in html and "Follow up cases" not in html
    assert ">Customer shout-outs</a>" in html and ">Shout outs<" not in html
