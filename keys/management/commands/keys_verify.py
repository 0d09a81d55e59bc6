from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keys.services import keys_recovery_check


class Command(BaseCommand):
    help = (
        "Prove that every stored provider key can be decrypted with the configured master "
        "keys (CREWBUILDER_ENCRYPTION_KEYS) and key backends, e.g. after restoring a backup. "
        "Reads only: changes no row and writes no audit event. Lists exactly which "
        "organisations cannot be recovered, and exits non-zero when there is one."
    )

    def handle(self, *args, **options) -> None:
        report = keys_recovery_check()
        total_keys = sum(org.keys_total for org in report.organizations)
        self.stdout.write(
            f"Checked {len(report.organizations)} organisation(s) with {total_keys} stored "
            f"key(s) and {report.transport_keys} transport key(s)."
        )
        bad = report.unrecoverable
        self.stdout.write(f"Recoverable: {len(report.organizations) - len(bad)} organisation(s).")
        if not bad and not report.transport_problems:
            self.stdout.write("Every stored key decrypts with the configured keys.")
            return
        if bad:
            self.stdout.write(f"CANNOT BE RECOVERED: {len(bad)} organisation(s):")
            for org in bad:
                self.stdout.write(
                    f"  organisation {org.organization_id} ({org.organization_name}): "
                    f"{org.problem}; {org.keys_total} stored key(s)"
                )
        for problem in report.transport_problems:
            self.stdout.write(
                f"  {problem} cannot be unwrapped: browser-side encryption fails until it "
                "is deleted (a new pair is created; nothing stored depends on it)"
            )
        missing = sorted(
            {org.wrapped_by for org in bad if "not configured" in org.problem and org.wrapped_by}
        )
        hint = f" Missing master key(s): {', '.join(missing)}." if missing else ""
        raise CommandError(
            f"{len(bad)} organisation(s) and {len(report.transport_problems)} transport "
            f"key(s) cannot be recovered with the configured keys.{hint} Nothing was changed."
        )
