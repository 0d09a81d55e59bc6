from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from accounts.models import Role
from crewbuilder.reporting import analytics
from crewbuilder.reporting.charts import bar_chart, column_chart
from generation.models import Generation
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _gen(
    org,
    user,
    *,
    day,
    model="gpt-4o-mini",
    provider="openai",
    model_class="standard",
    key_source="platform",
    tin=1000,
    tout=500,
    cost=1,
    status="succeeded",
):
    return Generation.objects.create(
        organization=org,
        user=user,
        requirement="a requirement long enough for the generator",
        provider=provider,
        model=model,
        model_class=model_class,
        key_source=key_source,
        status=status,
        input_tokens=tin,
        output_tokens=tout,
        cost_cents=cost,
        created_at=datetime(2026, 6, day, 10, tzinfo=UTC),
    )


@pytest.fixture
def usage(tenant):
    _gen(tenant.org, tenant.owner, day=29)
    _gen(tenant.org, tenant.owner, day=29, key_source="stored", cost=0)
    # advanced: 1M in + 1M out on gpt-4o = $2.50 + $10.00; gpt-4o-mini would be $0.15 + $0.60
    _gen(
        tenant.org,
        tenant.member,
        day=30,
        model="gpt-4o",
        model_class="advanced",
        tin=1_000_000,
        tout=1_000_000,
        cost=1250,
    )
    _gen(tenant.org, tenant.member, day=30, status="failed", cost=0, tin=10, tout=0)
    _gen(tenant.org, tenant.owner, day=1)  # 1 June: outside the last 7 days
    _gen(tenant.outsider_org, tenant.outsider, day=30, model="secret-model", cost=999)
    return tenant


def test_aggregates_by_day_model_member_and_key_source(usage):
    since, until = analytics.period_for(7)
    data = analytics.usage_for_period(organization=usage.org, since=since, until=until)
    assert data.totals.generations == 4
    assert data.totals.cost_cents == 1 + 0 + 1250 + 0
    assert [b.label for b in data.by_day][-2:] == ["2026-06-29", "2026-06-30"]
    assert len(data.by_day) == 7 and data.by_day[0].generations == 0  # zero-filled
    assert [b.generations for b in data.by_day][-2:] == [2, 2]
    models = {b.label: b for b in data.by_model}
    assert models["openai · gpt-4o"].cost_cents == 1250
    assert models["openai · gpt-4o-mini"].generations == 3
    members = {b.label: b.generations for b in data.by_member}
    assert members == {"alice@acme.test": 2, "bob@acme.test": 2}
    sources = {b.label: b.generations for b in data.by_key_source}
    assert sources == {"CrewBuilder AI": 3, "Stored key": 1}
    assert "secret-model" not in str(data)


def test_hint_prices_advanced_generations_on_the_standard_model(usage):
    since, until = analytics.period_for(7)
    data = analytics.usage_for_period(organization=usage.org, since=since, until=until)
    advanced = next(h for h in data.hints if "advanced model" in h.title)
    assert advanced.title.startswith("25% of generations")
    # $12.50 actually spent − $0.75 on gpt-4o-mini (15 + 60 cents per million) = $11.75
    assert advanced.saving_cents == 1250 - 75
    assert "$11.75 less" in advanced.detail
    assert any("CrewBuilder AI" in h.title for h in data.hints)
    assert any("failed" in h.title for h in data.hints)


def test_page_renders_svg_charts_and_hints_for_owner(usage, owner_client: Client):
    page = owner_client.get("/settings/analytics/", {"days": 7})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg class="chart chart-wide"') == 7
    assert html.count('<svg class="chart chart-narrow"') == 7  # the same charts drawn for a phone
    assert "Cost optimisation" in html and "$11.75 less" in html
    assert "$12.51" in html  # total cost
    assert "secret-model" not in html


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OWNER, 200),
        (Role.ADMIN, 200),
        (Role.BILLING_MANAGER, 200),
        (Role.MEMBER, 403),
        (Role.VIEWER, 403),
    ],
)
def test_analytics_roles(usage, role, status):
    user = UserFactory()
    MembershipFactory(organization=usage.org, user=user, role=role)
    client = Client()
    client.force_login(user)
    assert client.get("/settings/analytics/").status_code == status
    assert client.get("/settings/analytics/export.csv").status_code == status


def test_outsider_sees_only_their_own_usage(usage, outsider_client: Client):
    rows = list(
        csv.DictReader(
            io.StringIO(outsider_client.get("/settings/analytics/export.csv").content.decode())
        )
    )
    assert [r["model"] for r in rows] == ["secret-model"]


def test_csv_export_has_one_row_per_day_model_member_and_source(usage, owner_client: Client):
    response = owner_client.get("/settings/analytics/export.csv", {"days": 90})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 5  # 1 June, 29 June ×2 sources, 30 June gpt-4o, 30 June gpt-4o-mini
    adv = next(r for r in rows if r["model"] == "gpt-4o")
    assert adv == {
        "date": "2026-06-30",
        "provider": "openai",
        "model": "gpt-4o",
        "member": "bob@acme.test",
        "key_source": "platform",
        "generations": "1",
        "input_tokens": "1000000",
        "output_tokens": "1000000",
        "cost_cents": "1250",
    }


@pytest.mark.parametrize("days", ["14", "abc", "-1"])
def test_bad_period_is_400_with_field_message(usage, owner_client: Client, days):
    for url in ("/settings/analytics/", "/settings/analytics/export.csv"):
        response = owner_client.get(url, {"days": days})
        assert response.status_code == 400
        assert b"Choose 7, 30 or 90 days." in response.content


def test_empty_period_renders_without_hints(tenant, owner_client: Client):
    page = owner_client.get("/settings/analytics/")
    assert page.status_code == 200
    assert b"Cost optimisation" not in page.content
    assert b"No generations in this period." in page.content


def test_chart_labels_are_escaped():
    svg = str(bar_chart([("<script>alert(1)</script>", 3)], title="t<"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    svg = str(column_chart([("a&b", 1), ("c", 0)], title="x"))
    assert "a&amp;b" in svg


def test_analytics_query_count_is_bounded(
    usage, owner_client: Client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20):
        assert owner_client.get("/settings/analytics/", {"days": 90}).status_code == 200
