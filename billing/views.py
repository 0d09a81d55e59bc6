from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.selectors import plans_for_pricing


def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/pricing.html", {"plans": plans_for_pricing()})
