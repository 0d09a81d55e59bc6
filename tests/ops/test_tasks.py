"""Every Celery task of the project is named ``<app>.<verb>[_<object>]`` and every beat
entry (the one table in ``crewbuilder/settings/celery.py``) names a registered task."""

from __future__ import annotations

import re

from django.conf import settings

from crewbuilder.celery import app

APPS = ("accounts", "keys", "billing", "generation", "webhooks")
NAME = re.compile(rf"^({'|'.join(APPS)})\.[a-z]+(_[a-z]+)*$")


def _ours() -> dict[str, object]:
    app.loader.import_default_modules()  # autodiscover every app's tasks module
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_is_named_app_dot_verb():
    names = sorted(_ours())
    assert {name.split(".")[0] for name in names} == set(APPS)
    assert [name for name in names if not NAME.match(name)] == []
    assert {
        "generation.run",
        "generation.recover_lost",
        "generation.expire_unanswered",
        "billing.scan_usage_anomalies",
        "billing.expire_guest_passes",
        "keys.recheck_provider_keys",
        "keys.rotate_data_keys",
        "accounts.recheck_domains",
        "webhooks.flush_endpoint",
        "webhooks.deliver_due",
    } == set(names)


def test_every_beat_entry_runs_a_registered_task():
    tasks = _ours()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert [e["task"] for e in schedule.values() if e["task"] not in tasks] == []
    assert {
        "generation.recover_lost",
        "generation.expire_unanswered",
        "billing.scan_usage_anomalies",
        "billing.expire_guest_passes",
        "keys.recheck_provider_keys",
        "keys.rotate_data_keys",
        "accounts.recheck_domains",
        "webhooks.deliver_due",
    } == {e["task"] for e in schedule.values()}
    # worker loss is found in minutes: the recovery scan is the most frequent job
    assert schedule["generation-recover-lost"]["schedule"] <= 60
