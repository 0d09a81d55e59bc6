"""Every organisation has a billing account from birth (billing/receivers.py); this opens
one for each organisation created before that. Expand-only: rows are only added, in
committed batches (the migration is not atomic), so a large table is never locked for
long and an interrupted run resumes where it stopped. The previous release, which creates
accounts lazily with get_or_create, keeps working beside it."""

from django.db import migrations
from django.utils import timezone

BATCH = 500


def open_missing_accounts(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    BillingAccount = apps.get_model("billing", "BillingAccount")
    last_pk = 0
    while True:
        pks = list(
            Organization.objects.filter(pk__gt=last_pk, billing_account__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not pks:
            return
        now = timezone.now()
        BillingAccount.objects.bulk_create(
            [BillingAccount(organization_id=pk, created_at=now, updated_at=now) for pk in pks],
            ignore_conflicts=True,  # opened meanwhile by the running release
        )
        last_pk = pks[-1]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0002_api_tokens_branding_roles"),
        ("billing", "0004_credit_entry_purchase_restrict"),
    ]

    operations = [
        migrations.RunPython(open_missing_accounts, migrations.RunPython.noop, elidable=True),
    ]
