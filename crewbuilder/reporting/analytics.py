"""Usage analytics for an organisation: generations, tokens and cost by day, model,
member and key source, plus cost-optimisation hints. Reads only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Organization
from generation.models import Generation, LlmModel

PERIODS = (7, 30, 90)
KEY_SOURCE_LABELS = {
    "platform": "CrewBuilder AI",
    "stored": "Stored key",
    "one_time": "One-time key",
}


@dataclass
class Bucket:
    label: str
    generations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_cents: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class Hint:
    title: str
    detail: str
    saving_cents: int = 0


@dataclass
class Usage:
    since: date
    until: date
    totals: Bucket
    by_day: list[Bucket]
    by_model: list[Bucket]
    by_member: list[Bucket]
    by_key_source: list[Bucket]
    hints: list[Hint] = field(default_factory=list)


_AGG = {
    "n": Count("id"),
    "tin": Sum("input_tokens"),
    "tout": Sum("output_tokens"),
    "cost": Sum("cost_cents"),
}


def _bucket(label: str, row: dict) -> Bucket:
    return Bucket(
        label=label,
        generations=row["n"] or 0,
        input_tokens=row["tin"] or 0,
        output_tokens=row["tout"] or 0,
        cost_cents=row["cost"] or 0,
    )


def generations_in_period(*, organization: Organization, since: date, until: date) -> QuerySet:
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    return Generation.objects.filter(
        organization=organization, created_at__gte=start, created_at__lt=end
    )


def period_for(days: int, *, today: date | None = None) -> tuple[date, date]:
    until = today or timezone.now().astimezone(UTC).date()
    return until - timedelta(days=days - 1), until


def usage_for_period(*, organization: Organization, since: date, until: date) -> Usage:
    qs = generations_in_period(organization=organization, since=since, until=until)
    totals = _bucket("total", qs.aggregate(**_AGG))

    per_day = {
        row["day"]: row
        for row in qs.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(**_AGG)
        .order_by("day")
    }
    by_day = []
    day = since
    while day <= until:
        row = per_day.get(day)
        by_day.append(_bucket(day.isoformat(), row) if row else Bucket(label=day.isoformat()))
        day += timedelta(days=1)

    by_model = [
        _bucket(f"{r['provider']} · {r['model']}", r)
        for r in qs.values("provider", "model").annotate(**_AGG).order_by("-n", "model")
    ]
    by_member = [
        _bucket(r["user__email"] or "API or former member", r)
        for r in qs.values("user__email").annotate(**_AGG).order_by("-n", "user__email")
    ]
    by_key_source = [
        _bucket(KEY_SOURCE_LABELS.get(r["key_source"], r["key_source"]), r)
        for r in qs.values("key_source").annotate(**_AGG).order_by("-n")
    ]
    usage = Usage(
        since=since,
        until=until,
        totals=totals,
        by_day=by_day,
        by_model=by_model,
        by_member=by_member,
        by_key_source=by_key_source,
    )
    usage.hints = cost_hints(qs, totals)
    return usage


def _standard_prices() -> dict[str, tuple[int, int, str]]:
    """Per provider, the default (else cheapest) active standard model's prices."""
    prices: dict[str, tuple[int, int, str]] = {}
    for m in LlmModel.objects.filter(active=True, model_class="standard").order_by(
        "provider", "-is_default", "input_cents_per_million"
    ):
        prices.setdefault(
            m.provider, (m.input_cents_per_million, m.output_cents_per_million, m.label or m.name)
        )
    return prices


def cost_hints(qs: QuerySet, totals: Bucket) -> list[Hint]:
    hints: list[Hint] = []
    if not totals.generations:
        return hints
    standard = _standard_prices()
    advanced = list(
        qs.filter(model_class="advanced").values("provider").annotate(**_AGG).order_by("provider")
    )
    adv_count = sum(r["n"] for r in advanced)
    saving = 0
    for r in advanced:
        if r["provider"] not in standard:
            continue
        pin, pout, _ = standard[r["provider"]]
        # integer cents, rounded up, as the catalogue prices per million tokens
        std_cost = -(-((r["tin"] or 0) * pin + (r["tout"] or 0) * pout) // 1_000_000)
        saving += max((r["cost"] or 0) - std_cost, 0)
    if adv_count:
        share = round(100 * adv_count / totals.generations)
        hints.append(
            Hint(
                title=f"{share}% of generations used an advanced model",
                detail=(
                    f"{adv_count} of {totals.generations} generations ran on an advanced model. "
                    "On the standard model of the same provider they would have cost "
                    f"${saving / 100:,.2f} less. Keep advanced models for requirements with "
                    "many agents or complex tool use."
                ),
                saving_cents=saving,
            )
        )
    platform = qs.filter(key_source="platform").count()
    if platform:
        hints.append(
            Hint(
                title=f"{platform} generation{'s' if platform != 1 else ''} used CrewBuilder AI",
                detail=(
                    "Generations on your own OpenAI or Anthropic key cost nothing here and use "
                    "no quota; add a key under Settings → API keys if you generate often."
                ),
            )
        )
    failed = qs.filter(Q(status="failed")).aggregate(n=Count("id"), t=Sum("input_tokens"))
    if failed["n"]:
        share = round(100 * failed["n"] / totals.generations)
        hints.append(
            Hint(
                title=f"{share}% of generations failed",
                detail=(
                    f"{failed['n']} failed generation{'s' if failed['n'] != 1 else ''} gave back "
                    "their quota or credit, but tokens spent on your own key before a failure "
                    "are billed by the provider. Check invalid keys and very long requirements."
                ),
            )
        )
    return hints


def usage_rows_for_csv(*, organization: Organization, since: date, until: date):
    """One row per day × provider × model × member × key source."""
    qs = generations_in_period(organization=organization, since=since, until=until)
    return (
        qs.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "provider", "model", "user__email", "key_source")
        .annotate(**_AGG)
        .order_by("day", "provider", "model", "user__email", "key_source")
    )
