"""The organisation's audit log: filters, pages and a streaming CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC

from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import selectors
from accounts.csvsafe import safe_cell
from accounts.forms import AuditFilterForm
from accounts.http import MemberRequest
from accounts.permissions import Cap
from accounts.web import FORBID, organization_view

PAGE_SIZE = 50
CSV_COLUMNS = ["time_utc", "actor", "action", "target_type", "target_id", "target", "details"]


AUDIT_DENIED = "Only owners and admins can see the audit log."


def _filtered(request: MemberRequest, form: AuditFilterForm):
    data = form.cleaned_data
    return selectors.audit_events_for(
        organization=request.organization,
        action=data.get("action") or "",
        actor=(data.get("actor") or "").strip(),
        since=data.get("since"),
        until=data.get("until"),
    )


@organization_view(Cap.VIEW_AUDIT, denied=AUDIT_DENIED, no_organization=FORBID)
@require_GET
def audit_log(request: MemberRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    context = {"form": form, "actions": selectors.audit_actions_for(request.organization)}
    if not form.is_valid():
        return render(request, "accounts/audit.html", context, status=400)
    page = Paginator(_filtered(request, form).select_related(None), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context.update(page=page, query=query.urlencode())
    return render(request, "accounts/audit.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _rows(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in queryset.iterator(chunk_size=500):
        details = "; ".join(f"{k}={v}" for k, v in sorted((event.metadata or {}).items()))
        yield writer.writerow(
            [
                safe_cell(event.created_at.astimezone(UTC).isoformat()),
                safe_cell(event.actor_label),
                safe_cell(event.action),
                safe_cell(event.target_type),
                safe_cell(event.target_id),
                safe_cell(event.target_label),
                safe_cell(details),
            ]
        )


@organization_view(Cap.VIEW_AUDIT, denied=AUDIT_DENIED, no_organization=FORBID)
@require_GET
def audit_export(request: MemberRequest) -> HttpResponse | StreamingHttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "actions": selectors.audit_actions_for(request.organization)}
        return render(request, "accounts/audit.html", context, status=400)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_rows(_filtered(request, form)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
