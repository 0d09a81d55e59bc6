"""Expand, data half: every custom domain saved before proofs existed was never proved, so
it becomes a *claim* (``domain_claim``) and stops being served (``custom_domain`` NULL)
until its organisation publishes the TXT record and verifies. Batched, one transaction per
batch; idempotent (a row already moved, or verified, is not touched again). A previous-
release process still running stops serving these domains too — that is the point: an
unproved domain must not route or brand anything."""

from django.db import migrations, transaction

BATCH = 500


def unproved_domains_become_claims(apps, schema_editor):
    OrganizationBranding = apps.get_model("accounts", "OrganizationBranding")
    pending = (
        OrganizationBranding.objects.filter(
            custom_domain__isnull=False, domain_verified_at__isnull=True
        )
        .exclude(custom_domain="")
        .order_by("pk")
    )
    last_pk = 0
    while True:
        batch = list(pending.filter(pk__gt=last_pk).values_list("pk", "custom_domain")[:BATCH])
        if not batch:
            return
        with transaction.atomic():
            for pk, domain in batch:
                OrganizationBranding.objects.filter(
                    pk=pk, custom_domain=domain, domain_verified_at__isnull=True
                ).update(domain_claim=domain, custom_domain=None)
        last_pk = batch[-1][0]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0005_branding_domain_verification")]

    operations = [
        migrations.RunPython(unproved_domains_become_claims, migrations.RunPython.noop),
    ]
