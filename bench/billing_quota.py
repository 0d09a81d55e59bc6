"""Billing benchmark, printed side by side with baselines measured in the same run:

1. quota reservation through the service (``billing.services.quota_reserve``) vs a bare
   conditional ``UPDATE … WHERE used < limit`` on the same database and row, one client;
   plus the full ``charge_reserve`` (daily cap + quota + charge row, in a transaction)
   for context;
2. webhook handling (signed ``checkout.session.completed`` crediting a purchase: verify,
   store the event, handle, record) p50/p99 vs a bare view answering 200, both through
   Django's test client.

Runs on DATABASE_URL (a throwaway test database is created and dropped); without it, on
SQLite. ``.venv/bin/python bench/billing_quota.py [iterations]``
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import statistics
import sys
import time
import types
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.test_settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
SECRET = "whsec_bench_0123456789"


def stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.fmean(ordered) * 1e6, ordered[len(ordered) // 2] * 1e6, p99 * 1e6


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def timed_interleaved(fns: list, n: int) -> list[list[float]]:
    """Time several functions alternately (rotating the order each round), so a noisy
    shared machine slows them all alike instead of whichever ran during a burst."""
    out: list[list[float]] = [[] for _ in fns]
    for i in range(n):
        order = list(range(len(fns)))
        order = order[i % len(fns) :] + order[: i % len(fns)]
        for k in order:
            t0 = time.perf_counter()
            fns[k]()
            out[k].append(time.perf_counter() - t0)
    return out


def row(label: str, samples: list[float], base: list[float] | None = None) -> None:
    mean, p50, p99 = stats(samples)
    ratio = f"{mean / stats(base)[0]:5.2f}x" if base else "  1.00x"
    print(f"  {label:<46} mean {mean:8.1f} µs  p50 {p50:8.1f} µs  p99 {p99:8.1f} µs  {ratio}")


@csrf_exempt
def bare_view(request):
    return HttpResponse("ok")


def main() -> None:
    setup_test_environment()
    bench_urls = types.ModuleType("bench_urls")
    bench_urls.urlpatterns = [path("bare/", bare_view), path("", include("crewbuilder.urls"))]
    sys.modules["bench_urls"] = bench_urls
    settings.ROOT_URLCONF = "bench_urls"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_SECRET_KEY = ""  # handlers use the signed payload; no Stripe calls
    settings.ALLOWED_HOSTS = ["testserver"]
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run() -> None:
    from accounts.models import Organization
    from billing import selectors, services
    from billing.models import BillingAccount, UsageCounter

    services.plans_seed()
    org = Organization.objects.create(name="Bench")
    services.billing_plan_assign(
        organization=org, plan=selectors.Plan.objects.get(slug="enterprise"), actor=None
    )
    BillingAccount.objects.filter(organization=org).update(
        generations_override=10**9, daily_cap=10**9
    )
    start, end = selectors.current_period(None, timezone.now())
    UsageCounter.objects.create(organization=org, period_start=start, period_end=end)
    limit = 10**9
    table = UsageCounter._meta.db_table
    sql = (
        f"UPDATE {table} SET used = used + 1 "  # noqa: S608 - constant table name
        "WHERE organization_id = %s AND period_start = %s AND used < %s"
    )

    def bare() -> None:
        with connection.cursor() as cur:
            cur.execute(sql, [org.pk, start, limit])
            assert cur.rowcount == 1

    def service() -> None:
        assert services.quota_reserve(
            organization_id=org.pk, period_start=start, period_end=end, limit=limit
        )

    def full() -> None:
        services.charge_reserve(organization=org, generation_id=uuid.uuid4(), key_source="platform")

    vendor = connection.vendor
    print(f"billing benchmark on {vendor}, {N} iterations, one client\n")
    print("1. quota reservation")
    for fn in (bare, service, full):  # warm up connections and caches
        timed(fn, 50)
    base, svc, whole = timed_interleaved([bare, service, full], N)
    row("bare conditional UPDATE (baseline)", base)
    row("billing.services.quota_reserve", svc, base)
    row("billing.services.charge_reserve (full)", whole, base)
    ratio = stats(svc)[0] / stats(base)[0]
    print(f"  target ≤ 1.5x at one client: {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)\n")

    print("2. webhook handling (signed checkout.session.completed, credits purchase)")
    client = Client()

    def signed(payload: bytes) -> str:
        ts = int(time.time())
        mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={ts},v1={mac}"

    def webhook() -> None:
        sid = uuid.uuid4().hex
        evt = {
            "id": f"evt_{sid}",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"cs_{sid}",
                    "mode": "payment",
                    "payment_status": "paid",
                    "payment_intent": f"pi_{sid}",
                    "client_reference_id": str(org.uuid),
                    "amount_total": 500,
                    "currency": "usd",
                    "metadata": {"credits": "1"},
                }
            },
        }
        payload = json.dumps(evt).encode()
        r = client.post(
            "/billing/webhook/",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signed(payload),
        )
        assert r.status_code == 200, r.content

    def bare_post() -> None:
        r = client.post("/bare/", data=b"{}", content_type="application/json")
        assert r.status_code == 200

    n = max(N // 4, 100)
    timed(webhook, 20)
    timed(bare_post, 20)
    base_hook, hook = timed_interleaved([bare_post, webhook], n)
    row("bare view (baseline)", base_hook)
    row("/billing/webhook/ (verify, store, handle)", hook, base_hook)
    print(
        f"  webhook p99 {stats(hook)[2] / 1000:.2f} ms vs bare view p99 {stats(base_hook)[2] / 1000:.2f} ms"
    )
    print(f"  credits granted: {selectors.credits_balance(org)} (one per event)")


if __name__ == "__main__":
    main()
