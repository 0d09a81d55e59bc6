"""Expand, data half: copy every logo file (0.1.0 kept them under MEDIA_ROOT) into its
row, byte for byte. Batched, one transaction per batch; safe to re-run (rows already
copied are skipped) — ``manage.py branding_logos_import`` does the same after a rolling
deploy, for logos a 0.1.0 process saved meanwhile. A file that is missing (a container
that already lost it) is reported and left alone: there is nothing to copy."""

import hashlib
import logging

from django.db import migrations, transaction

BATCH = 100
logger = logging.getLogger("crewbuilder.migrations")


def copy_logo_files(apps, schema_editor):
    OrganizationBranding = apps.get_model("accounts", "OrganizationBranding")
    pending = OrganizationBranding.objects.exclude(logo="").filter(logo_png__isnull=True)
    last_pk = 0
    while True:
        batch = list(pending.filter(pk__gt=last_pk).order_by("pk")[:BATCH])
        if not batch:
            return
        with transaction.atomic():
            for branding in batch:
                try:
                    with branding.logo.open("rb") as handle:
                        data = handle.read()
                except OSError:
                    logger.warning("logo file missing for branding #%s: %s", branding.pk, branding.logo.name)
                    continue
                OrganizationBranding.objects.filter(pk=branding.pk, logo_png__isnull=True).update(
                    logo_png=data, logo_sha256=hashlib.sha256(data).hexdigest()
                )
        last_pk = batch[-1].pk


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0003_branding_logo_in_database"),
    ]

    operations = [
        migrations.RunPython(copy_logo_files, migrations.RunPython.noop),
    ]
