from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keys.rotation import data_keys_rotate, data_keys_rotation_status


class Command(BaseCommand):
    help = (
        "Re-wrap every organisation data key under the newest master key (the first entry "
        "of CREWBUILDER_ENCRYPTION_KEYS, or Vault transit). Safe to interrupt and re-run. "
        "--check only reports how many rows still use older keys and exits non-zero when any "
        "row is not on the newest key (a deploy gate)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="report, change nothing")
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args, check: bool = False, batch_size: int = 100, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if not check:
            report = data_keys_rotate(batch_size=batch_size)
            self.stdout.write(f"Re-wrapped {report.rewrapped} key(s) under {report.target}.")
            if report.failed:
                raise CommandError(
                    f"{len(report.failed)} key(s) could not be unwrapped (is their master key "
                    "still configured?). Nothing else changed; fix and re-run."
                )
        status = data_keys_rotation_status()
        self.stdout.write(f"Newest key: {status['target']}")
        for key_id, count in sorted(status["counts"].items()):
            marker = "current" if key_id == status["target"] else "old"
            if key_id in status["unknown"]:
                marker = "NOT CONFIGURED - cannot be decrypted"
            self.stdout.write(f"  {key_id}: {count} ({marker})")
        if status["outdated"]:
            message = (
                f"{status['outdated']} row(s) still use an old key: run `manage.py keys_rotate`."
            )
            self.stdout.write(message)
            if check:
                raise CommandError(message)
        else:
            self.stdout.write("Everything uses the newest key; older master keys can be removed.")
