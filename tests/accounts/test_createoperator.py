"""``manage.py createoperator``: the first operator signs in to /admin/ at once (a staff
superuser whose email is verified), in scripts without a prompt, with clear errors."""

from __future__ import annotations

import io
import sys

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import AuditEvent, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long operator passphrase 7"


@pytest.fixture(autouse=True)
def _mandatory_verification(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # as in production


def _sign_in_to_admin(email: str, password: str):
    client = Client()
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": email, "password": password}, follow=True
    )
    return client, response


def test_operator_created_without_a_prompt_signs_in_to_the_admin_at_once(monkeypatch):
    monkeypatch.setenv("CREWBUILDER_OPERATOR_PASSWORD", PASSWORD)
    out = io.StringIO()
    call_command("createoperator", "--email", "Ops@Example.com", "--noinput", stdout=out)
    assert "Operator ops@example.com created" in out.getvalue()

    user = User.objects.get(email="ops@example.com")
    assert (user.is_staff, user.is_superuser, user.is_active) == (True, True, True)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == ("ops@example.com", True, True)
    assert AuditEvent.objects.filter(action="operator.created", target_id=str(user.pk)).exists()

    client, response = _sign_in_to_admin("ops@example.com", PASSWORD)
    assert response.redirect_chain[-1][0] == "/admin/"
    assert response.status_code == 200
    assert "CrewBuilder operations" in response.content.decode()
    assert client.get("/admin/billing/billingaccount/").status_code == 200


def test_createsuperuser_alone_would_land_on_verify_your_email():
    # Why the command exists: the stock superuser has no verified address.
    User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    _, response = _sign_in_to_admin("root@example.com", PASSWORD)
    assert response.redirect_chain[-1][0] != "/admin/"
    assert "Verify Your Email Address" in response.content.decode()


def test_password_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    call_command(
        "createoperator",
        "--email",
        "ops@example.com",
        "--noinput",
        "--password-stdin",
        stdout=io.StringIO(),
    )
    _, response = _sign_in_to_admin("ops@example.com", PASSWORD)
    assert response.redirect_chain[-1][0] == "/admin/"


@pytest.mark.parametrize(
    "args, password, message",
    [
        (["--noinput"], PASSWORD, "--email is required with --noinput"),
        (["--email", "ops@example.com", "--noinput"], "", "No password: set"),
        (["--email", "not-an-address", "--noinput"], PASSWORD, "Enter a valid email address"),
        (["--email", "ops@example.com", "--noinput"], "password", "too common"),
        (["--email", "ops@example.com", "--noinput"], "ops@example.com", "too similar"),
        (["--email", "ops@example.com"], PASSWORD, "Not a terminal: use --noinput"),
    ],
)
def test_bad_input_is_a_clear_error_and_creates_nobody(monkeypatch, args, password, message):
    monkeypatch.setenv("CREWBUILDER_OPERATOR_PASSWORD", password)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match=message):
        call_command("createoperator", *args, stdout=io.StringIO())
    assert not User.objects.filter(is_staff=True).exists()


def test_an_existing_address_is_refused(monkeypatch):
    UserFactory(email="ops@example.com")
    monkeypatch.setenv("CREWBUILDER_OPERATOR_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match="already exists"):
        call_command("createoperator", "--email", "OPS@example.com", "--noinput")
    assert not User.objects.get(email="ops@example.com").is_staff


def test_interactive_prompts_again_until_the_passwords_match(monkeypatch):
    monkeypatch.delenv("CREWBUILDER_OPERATOR_PASSWORD", raising=False)
    stdin = io.StringIO("")
    stdin.isatty = lambda: True
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr("builtins.input", lambda prompt: "ops@example.com")
    typed = iter([PASSWORD, "typo", "short", "short", PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    err = io.StringIO()
    call_command("createoperator", stdout=io.StringIO(), stderr=err)
    assert "do not match" in err.getvalue()
    assert "too short" in err.getvalue()
    assert User.objects.get(email="ops@example.com").is_superuser
