"""Expand: custom domains need a DNS TXT proof before they are served (issue 12).

Four new columns, each nullable or with a database default, so the previous release's
INSERTs and reads keep working: the claimed domain, the organisation's token for the
proof, when the domain was verified and when its proof was last seen. No data changes: a
``custom_domain`` saved before proofs existed has no ``domain_verified_at``, so it is not
served and counts as a claim until its organisation verifies it (accounts/domains.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_branding_logo_copy_files")]

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
    ]
