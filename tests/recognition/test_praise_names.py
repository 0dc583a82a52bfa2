"""The customer's name on praise shown to all staff never carries a contact detail,
even when a CRM or an import copied the address into the name (design §6)."""

import pytest

from surveys.privacy import customer_label

LEAKY_NAMES = [
    ("claire.dupont@example.net", "claire.dupont@example.net"),
    ("+33612345678", "+33612345678"),
    ("+33 6 12 34 56 78", "12 34 56"),
    ("Claire claire.dupont@example.net", "claire.dupont"),
    ("claire.dupont@example.net Dupont", "claire.dupont"),
]


@pytest.mark.parametrize("name,leak", LEAKY_NAMES)
def test_praise_wall_and_home_never_show_a_contact_detail_given_as_the_name(
    client, employee, promoter, name, leak
):
    promoter("Wonderful, quick and kind", name=name, email="someone@example.org")
    client.force_login(employee)
    for url in ("/champions/praise/", "/"):
        html = client.get(url).content.decode()
        assert "Wonderful, quick and kind" in html, url
        assert leak not in html, url


def test_a_name_that_is_only_a_contact_detail_is_a_customer(client, employee, promoter):
    promoter("Wonderful, quick and kind", name="+33612345678", email="someone@example.org")
    client.force_login(employee)
    for url in ("/champions/praise/", "/"):
        assert "A customer · " in client.get(url).content.decode(), url


def test_an_ordinary_name_is_still_first_name_and_initial(client, employee, promoter):
    promoter("Wonderful, quick and kind", name="Claire Dupont", email="someone@example.org")
    client.force_login(employee)
    for url in ("/champions/praise/", "/"):
        html = client.get(url).content.decode()
        assert "Claire D. · " in html, url
        assert "Dupont" not in html, url


def test_the_label_keeps_the_name_around_a_contact_detail():
    assert customer_label("Claire Dupont 0612345678") == "Claire D."
    assert customer_label("Claire <claire@example.net>") == "Claire"
    assert customer_label("claire@localhost") == "A customer"
    assert customer_label("Marie-Claire Dubois") == "Marie-Claire D."
    assert customer_label("") == "A customer"
