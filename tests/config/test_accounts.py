"""Experimenters log in on the site's own page; wrong passwords lock the account and the address."""

import pytest
from django.test import Client

LOGIN = "/login/"


@pytest.fixture
def experimenters(django_user_model):
    make = django_user_model.objects.create_user
    return {name: make(name, password=f"{name}-secret-1", is_staff=True) for name in ("ada", "ben")}


def attempt(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/studies/"})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_login_page_is_the_sites_and_the_admins_sends_people_there(db, experimenters):
    page = Client().get(LOGIN + "?next=/studies/").content.decode()
    assert "Log in" in page and "Django administration" not in page
    assert "After 5 wrong passwords" in page
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/"
    client = Client()
    response = attempt(client, "ada", "ada-secret-1")
    assert response.status_code == 302 and response["Location"] == "/studies/"
    assert logged_in(client)


def test_forty_wrong_passwords_lock_the_account_and_the_right_one_is_refused_too(db, experimenters):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [attempt(attacker, "ada", f"guess-{n}").status_code for n in range(40)]
    assert statuses[:4] == [200] * 4  # the form again, "Please enter a correct username..."
    assert set(statuses[5:]) == {429}
    response = attempt(attacker, "ada", "ada-secret-1")
    assert response.status_code == 429 and "Login locked" in response.content.decode()
    assert not logged_in(attacker)
    # The account is locked from every address, not only the attacker's ...
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert attempt(elsewhere, "ada", "ada-secret-1").status_code == 429
    assert not logged_in(elsewhere)
    # ... and the attacker's address cannot log in to any account.
    assert attempt(attacker, "ben", "ben-secret-1").status_code == 429
    assert not logged_in(attacker)
    # Ben, from his own address, is untouched.
    ben = Client(REMOTE_ADDR="192.0.2.44")
    assert attempt(ben, "ben", "ben-secret-1").status_code == 302 and logged_in(ben)


def test_one_address_spraying_many_accounts_is_locked(db, experimenters, django_user_model):
    sprayer = Client(REMOTE_ADDR="203.0.113.10")
    for name in ["carl", "dora", "eve", "finn", "gus"]:
        attempt(sprayer, name, "password1")
    assert attempt(sprayer, "ada", "ada-secret-1").status_code == 429
    assert not logged_in(sprayer)


def test_the_address_behind_a_trusted_proxy_is_the_one_locked(db, experimenters, settings):
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    proxy = "10.0.0.2"
    for n in range(5):
        Client(REMOTE_ADDR=proxy).post(
            LOGIN, {"username": f"x{n}", "password": "nope"}, headers={"X-Real-IP": "203.0.113.11"}
        )
    other_person = Client(REMOTE_ADDR=proxy, headers={"X-Real-IP": "192.0.2.45"})
    assert attempt(other_person, "ada", "ada-secret-1").status_code == 302
    assert logged_in(other_person)


def test_a_successful_login_clears_the_count(db, experimenters):
    client = Client(REMOTE_ADDR="192.0.2.46")
    for _ in range(2):
        for n in range(4):
            assert attempt(client, "ada", f"typo-{n}").status_code == 200
        assert attempt(client, "ada", "ada-secret-1").status_code == 302
        client.post("/logout/")
        assert not logged_in(client)


def test_an_experimenter_changes_their_password_on_the_site(db, experimenters, django_user_model):
    client = Client()
    attempt(client, "ben", "ben-secret-1")
    page = client.get("/password/").content.decode()
    assert "Change password" in page and "Django administration" not in page
    response = client.post(
        "/password/",
        {
            "old_password": "ben-secret-1",
            "new_password1": "a-much-longer-phrase-42",
            "new_password2": "a-much-longer-phrase-42",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/password/done/"
    assert django_user_model.objects.get(username="ben").check_password("a-much-longer-phrase-42")
    assert logged_in(client)  # the session survives its own password change
    wrong_old = client.post(
        "/password/",
        {
            "old_password": "nope",
            "new_password1": "x-y-z-1234567",
            "new_password2": "x-y-z-1234567",
        },
    )
    assert wrong_old.status_code == 200 and "incorrectly" in wrong_old.content.decode()
    assert django_user_model.objects.get(username="ben").check_password("a-much-longer-phrase-42")


def test_a_logged_in_account_that_is_not_staff_is_not_sent_round_in_circles(db, django_user_model):
    django_user_model.objects.create_user("visitor", password="visitor-secret-1")
    client = Client()
    response = attempt(client, "visitor", "visitor-secret-1")  # next=/studies/
    assert response.status_code == 302 and logged_in(client)
    response = client.get("/studies/", follow=True)
    assert response.status_code == 200 and len(response.redirect_chain) == 1
    assert 'data-testid="login"' in response.content.decode()
    assert client.get("/admin/login/").status_code == 403
