from __future__ import annotations

import pytest

from tests.factories import plan_assign
from tests.webhooks.receiver import Receiver


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.CREWBUILDER_WEBHOOK_RUNNER = "sync"
    settings.CREWBUILDER_WEBHOOK_ALLOW_HTTP = True
    settings.CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK = True
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    return settings


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def pro(tenant):
    """alice's organisation on Professional (webhooks included); charlie's stays on Free."""
    plan_assign(tenant.org, "professional")
    return tenant
