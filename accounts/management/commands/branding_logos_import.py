from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.services import branding_logos_import


class Command(BaseCommand):
    help = (
        "Copy white-label logo files saved by CrewBuilder 0.1.0 (MEDIA_ROOT/branding/) into "
        "the database, byte for byte. Run it once every 0.1.0 web process is gone (the "
        "upgrade's data migration already copied the files that existed then). Idempotent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args, batch_size: int = 100, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = branding_logos_import(batch_size=batch_size)
        self.stdout.write(f"Copied {report['copied']} logo(s) into the database.")
        if report["missing"]:
            self.stdout.write(
                f"{report['missing']} logo file(s) are missing from this process's storage "
                "(run the command where the 0.1.0 media volume is mounted, or ask the "
                "customer to upload again)."
            )
