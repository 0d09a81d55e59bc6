from __future__ import annotations

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import operator_create

PASSWORD_ENV = "CREWBUILDER_OPERATOR_PASSWORD"  # noqa: S105 - a variable name, not a secret


class Command(BaseCommand):
    help = (
        "Create the first operator: a staff superuser with a verified email address who can "
        "sign in to /admin/ at once. Interactive by default; for scripts use --noinput with "
        f"the password in {PASSWORD_ENV}, or --password-stdin."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", help="the operator's email address (their login)")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"never prompt: --email is required, the password comes from {PASSWORD_ENV} "
            "or --password-stdin",
        )
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )

    def handle(self, *args, email=None, interactive=True, password_stdin=False, **options):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: standard input held no password.")
        else:
            password = os.environ.get(PASSWORD_ENV, "")
        if not interactive:
            if not email:
                raise CommandError("--email is required with --noinput.")
            if not password:
                raise CommandError(
                    f"No password: set {PASSWORD_ENV} or pass --password-stdin with --noinput."
                )
            try:
                return self._create(email=email, password=password)
            except ValidationError as exc:
                raise CommandError(_messages(exc)) from None
        if not sys.stdin.isatty():
            raise CommandError("Not a terminal: use --noinput (see --help).")
        while True:
            email = email or input("Email address: ").strip()
            if not password:
                password = getpass.getpass("Password: ")
                if password != getpass.getpass("Password (again): "):
                    self.stderr.write("The passwords do not match; try again.")
                    password = ""
                    continue
            try:
                return self._create(email=email, password=password)
            except ValidationError as exc:
                self.stderr.write(_messages(exc))
                if "email" in exc.message_dict:
                    email = None
                if "password" in exc.message_dict:
                    password = ""

    def _create(self, *, email: str, password: str) -> None:
        user = operator_create(email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Operator {user.email} created (staff, superuser, email verified). "
                "Sign in at /admin/."
            )
        )


def _messages(exc: ValidationError) -> str:
    return " ".join(" ".join(messages) for messages in exc.message_dict.values())
