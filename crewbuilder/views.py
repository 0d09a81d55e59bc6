from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from crewbuilder import __version__

logger = logging.getLogger("crewbuilder.health")


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.GET.get("home") is None:
        return redirect("generation:generate")
    return render(request, "landing.html")


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, connection.vendor
    except Exception:
        logger.exception("health: database check failed")
        return False, "unreachable"


def _check_cache() -> tuple[bool, str]:
    try:
        cache.set("healthz", "ok", 5)
        ok = cache.get("healthz") == "ok"
        return ok, "redis" if settings.REDIS_URL else "local-memory"
    except Exception:
        logger.exception("health: cache check failed")
        return False, "unreachable"


def _check_broker() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "in-process"
    try:
        from crewbuilder.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "redis"
    except Exception:
        logger.exception("health: broker check failed")
        return False, "unreachable"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
    healthy = all(ok for ok, _ in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "version": __version__,
        "checks": {name: {"ok": ok, "backend": detail} for name, (ok, detail) in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)
