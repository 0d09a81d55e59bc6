from __future__ import annotations

from celery import shared_task

from accounts.domains import branding_domains_recheck


@shared_task(name="accounts.recheck_domains")
def domains_recheck_task() -> dict[str, int]:
    return branding_domains_recheck()
