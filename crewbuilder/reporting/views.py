"""Usage analytics page (SVG charts) and its CSV export."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.csvsafe import safe_cell
from accounts.forms import UsagePeriodForm
from accounts.http import MemberRequest
from accounts.permissions import Cap
from accounts.web import FORBID, organization_view
from crewbuilder.reporting import analytics, charts

USAGE_DENIED = "Usage analytics are for owners, admins and billing managers."


def _money(cents: float) -> str:
    return f"${cents / 100:,.2f}"


def _tokens(value: float) -> str:
    value = int(value)
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,}"


@organization_view(Cap.VIEW_USAGE, denied=USAGE_DENIED, no_organization=FORBID)
@require_GET
def usage(request: MemberRequest) -> HttpResponse:
    params = request.GET.copy()
    params.setdefault("days", "30")
    form = UsagePeriodForm(params)
    if not form.is_valid():
        return render(request, "accounts/analytics.html", {"form": form}, status=400)
    days = form.cleaned_data["days"]
    since, until = analytics.period_for(days)
    data = analytics.usage_for_period(organization=request.organization, since=since, until=until)
    day_points = [(b.label[5:], b) for b in data.by_day]
    context = {
        "form": form,
        "days": days,
        "usage": data,
        "charts": {
            "generations": charts.column_chart(
                [(label, b.generations) for label, b in day_points], title="Generations per day"
            ),
            "tokens": charts.column_chart(
                [(label, b.tokens) for label, b in day_points],
                title="Tokens per day",
                fmt=_tokens,
            ),
            "cost": charts.column_chart(
                [(label, b.cost_cents) for label, b in day_points],
                title="Cost per day",
                fmt=_money,
            ),
            "model": charts.bar_chart(
                [(b.label, b.generations) for b in data.by_model], title="Generations by model"
            ),
            "member": charts.bar_chart(
                [(b.label, b.generations) for b in data.by_member], title="Generations by member"
            ),
            "key_source": charts.bar_chart(
                [(b.label, b.generations) for b in data.by_key_source],
                title="Generations by key source",
            ),
            "model_cost": charts.bar_chart(
                [(b.label, b.cost_cents) for b in data.by_model], title="Cost by model", fmt=_money
            ),
        },
    }
    return render(request, "accounts/analytics.html", context)


@organization_view(Cap.VIEW_USAGE, denied=USAGE_DENIED, no_organization=FORBID)
@require_GET
def usage_export(request: MemberRequest) -> HttpResponse:
    form = UsagePeriodForm(request.GET)
    if not form.is_valid():
        return render(request, "accounts/analytics.html", {"form": form}, status=400)
    since, until = analytics.period_for(form.cleaned_data["days"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "date",
            "provider",
            "model",
            "member",
            "key_source",
            "generations",
            "input_tokens",
            "output_tokens",
            "cost_cents",
        ]
    )
    for r in analytics.usage_rows_for_csv(
        organization=request.organization, since=since, until=until
    ):
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    r["day"].isoformat(),
                    r["provider"],
                    r["model"],
                    r["user__email"] or "",
                    r["key_source"],
                    r["n"],
                    r["tin"] or 0,
                    r["tout"] or 0,
                    r["cost"] or 0,
                )
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="usage-{since.isoformat()}-{until.isoformat()}.csv"'
    )
    return response
