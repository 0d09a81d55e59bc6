from __future__ import annotations

import uuid

import pytest

from billing import services
from billing.models import BillingAccount, DailyUsage
from tests.billing.conftest import give_plan
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_a_failed_generation_gives_back_its_place_under_the_daily_cap(plans):
    org = OrganizationFactory()
    give_plan(org, "professional")
    BillingAccount.objects.filter(organization=org).update(daily_cap=1)
    first = uuid.uuid4()
    services.charge_reserve(organization=org, generation_id=first, key_source="platform")
    with pytest.raises(services.DailyCapReached):
        services.charge_reserve(organization=org, generation_id=uuid.uuid4(), key_source="platform")
    services.charge_release(organization=org, generation_id=first, charged_as="quota")
    services.charge_release(organization=org, generation_id=first, charged_as="quota")  # once
    assert DailyUsage.objects.get(organization=org).count == 0
    assert (
        services.charge_reserve(
            organization=org, generation_id=uuid.uuid4(), key_source="platform"
        ).charged_as
        == "quota"
    )
    assert DailyUsage.objects.get(organization=org).count == 1
