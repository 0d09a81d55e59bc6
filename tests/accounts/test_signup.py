from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Membership, Organization, Role, User

pytestmark = pytest.mark.django_db


def test_signup_creates_personal_organisation_with_user_as_owner(client: Client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    response = client.post(
        "/accounts/signup/",
        {
            "email": "Dana@Example.com",
            "password1": "a-very-good-pass-42",
            "password2": "a-very-good-pass-42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="dana@example.com")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.organization.is_personal
    assert Organization.objects.filter(memberships__user=user).count() == 1
    # the new user lands on a working team page for their organisation
    team = client.get("/settings/team/")
    assert team.status_code == 200
    assert b"dana@example.com" in team.content.lower()


def test_signup_with_mismatched_passwords_shows_field_error_and_creates_nothing(client: Client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "erin@example.com",
            "password1": "a-very-good-pass-42",
            "password2": "different-pass-42",
        },
    )
    assert response.status_code == 200
    assert b"password" in response.content.lower()
    assert not User.objects.filter(email="erin@example.com").exists()
    assert not Organization.objects.exists()


def test_mandatory_email_verification_sends_link_and_confirming_logs_in(client: Client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post(
        "/accounts/signup/",
        {
            "email": "fay@example.com",
            "password1": "a-very-good-pass-42",
            "password2": "a-very-good-pass-42",
        },
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    path = link.split("testserver", 1)[-1] if "testserver" in link else "/" + link.split("/", 3)[3]
    # not signed in before confirming
    assert client.get("/settings/team/").status_code == 302
    confirm = client.post(path)
    assert confirm.status_code == 302
    assert client.get("/settings/team/").status_code == 200


def test_login_and_logout(client: Client, tenant):
    response = client.post(
        "/accounts/login/", {"login": "alice@acme.test", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get("/settings/team/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/settings/team/").status_code == 302


def test_password_reset_sends_email(client: Client, tenant):
    response = client.post("/accounts/password/reset/", {"email": "alice@acme.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
