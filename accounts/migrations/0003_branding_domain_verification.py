"""Custom domains need a DNS TXT proof before they are served (issue 12).

Expand-only: four new columns (a claim, the per-organisation token, when the domain was
verified and last re-checked), all nullable or with a database default, so the previous
release keeps running beside this one. Then, in batches, every existing custom domain —
none of them was ever proved — becomes a claim: it is no longer served (and no longer
reserves the host name) until its organisation adds the TXT record and verifies.
"""

from django.db import migrations, models

BATCH = 500


def unverified_domains_become_claims(apps, schema_editor):
    Branding = apps.get_model("accounts", "OrganizationBranding")
    while True:
        batch = list(
            Branding.objects.filter(custom_domain__isnull=False, domain_verified_at__isnull=True)
            .exclude(custom_domain="")
            .values_list("pk", "custom_domain")[:BATCH]
        )
        if not batch:
            break
        for pk, domain in batch:
            Branding.objects.filter(pk=pk).update(domain_claim=domain, custom_domain=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_api_tokens_branding_roles")]

    operations = [
        migrations.AddField(
            model_name="organizationbranding",
            name="domain_claim",
            field=models.CharField(blank=True, db_default="", default="", max_length=253),
        ),
        migrations.AddField(
            model_name="organizationbranding",
            name="domain_token",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddField(
            model_name="organizationbranding",
            name="domain_verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="organizationbranding",
            name="domain_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(unverified_domains_become_claims, migrations.RunPython.noop),
    ]
