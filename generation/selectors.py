"""Reads for the generation pipeline: tenant-scoped generations, the public (contract)
shape of a generation, its files, the model catalogue and the crew templates."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F, Q, QuerySet

from billing.selectors import Feature, plan_allows
from generation.analysis import analyse
from generation.models import CrewTemplate, Generation, LlmModel

if TYPE_CHECKING:
    from accounts.models import Organization


def generations_for(*, organization: Organization | None) -> QuerySet[Generation]:
    """An organisation's generations, newest first, without the zip bytes."""
    return (
        Generation.objects.filter(organization=organization)
        .defer("zip_data")
        .select_related("user", "template")
        .order_by("-created_at", "-id")
    )


UNDERSTOOD_HEADINGS = {
    "Step": "Steps",
    "Reads": "Reads",
    "Service": "Services",
    "Output": "Delivers",
    "Schedule": "Schedule",
    "Language": "Language",
    "Quantity": "Quantities",
    "Time window": "Time window",
    "Rule": "Rules",
}


def generation_understood(g: Generation) -> list[dict]:
    """ "What we understood": the requirement analysis (with the answers to clarifying
    questions) grouped for the page. Recomputed from the text: it is pure and fast."""
    text = g.requirement
    if g.answers:
        extra = " ".join(a.strip() for a in g.answers.values() if a and a.strip())
        text = f"{text.strip()}. {extra}" if extra else text
    groups: dict[str, list[str]] = {}
    for heading, line in analyse(text).lines():
        groups.setdefault(UNDERSTOOD_HEADINGS.get(heading, heading), []).append(line)
    return [{"heading": heading, "items": items} for heading, items in groups.items()]


def generation_fit(g: Generation) -> dict | None:
    """The fit check's stored result, if the generation got that far."""
    return next((c for c in g.checks or [] if c.get("name") == "requirement_fit"), None)


def generation_public(g: Generation) -> dict:
    """The contract shape of a generation (API responses, the page's JSON)."""
    failed = g.status == Generation.Status.FAILED
    return {
        "id": str(g.id),
        "status": g.status,
        "stage": g.stage,
        "progress": g.progress,
        "requirement": g.requirement,
        "provider": g.provider,
        "model": g.model,
        "key_source": g.key_source,
        "charged_as": g.charged_as,
        "created_at": _iso(g.created_at),
        "started_at": _iso(g.started_at),
        "finished_at": _iso(g.finished_at),
        "usage": {
            "input_tokens": g.input_tokens,
            "output_tokens": g.output_tokens,
            "cost_cents": g.cost_cents,
        },
        "design": g.design,
        "files": list(g.files or []),
        "checks": list(g.checks or []),
        "error": {"code": g.error_code, "message": g.error_message} if failed else None,
        "worker_lost": g.worker_lost,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class ZipNotReady(Exception):  # noqa: N818 - reads as a state, like Http404
    """The generation has no project to download (not finished, or it failed)."""


def generation_zip(g: Generation) -> bytes:
    if g.status != Generation.Status.SUCCEEDED or not g.zip_data:
        raise ZipNotReady(str(g.id))
    return bytes(g.zip_data)


def generation_zip_filename(g: Generation) -> str:
    name = (g.design or {}).get("name") or "crew"
    return f"{name}.zip"


def generation_file(g: Generation, path: str) -> str | None:
    """The text of one generated file (read back from the zip, the single stored copy)."""
    if path not in {f["path"] for f in g.files or []}:
        return None
    try:
        data = generation_zip(g)
    except ZipNotReady:
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            # entries are "<root>/<path>"
            if info.filename.split("/", 1)[-1] == path:
                return archive.read(info).decode("utf-8", errors="replace")
    return None


# --- model catalogue


def llm_models_active() -> QuerySet[LlmModel]:
    return LlmModel.objects.filter(active=True).order_by("provider", "sort_order", "name")


# The active catalogue is a handful of rows that operators change rarely and every
# generation request reads: each process keeps it for CATALOGUE_SECONDS instead of asking
# the database on every enqueue. A save or delete drops this process's copy at once
# (generation/receivers.py); other processes see an admin change within CATALOGUE_SECONDS.
# The rows are shared: read them, never change them.
CATALOGUE_SECONDS = 30.0
_catalogue: tuple[float, tuple[LlmModel, ...]] | None = None


def _active_catalogue() -> tuple[LlmModel, ...]:
    global _catalogue
    cached, now = _catalogue, time.monotonic()
    if cached is None or now - cached[0] >= CATALOGUE_SECONDS:
        cached = (now, tuple(llm_models_active()))
        _catalogue = cached
    return cached[1]


def llm_catalogue_forget() -> None:
    """Drop this process's copy of the catalogue (the next read asks the database)."""
    global _catalogue
    _catalogue = None


def llm_models_of(*, provider: str) -> list[LlmModel]:
    """The provider's active models by (sort order, name), from the kept catalogue."""
    return [row for row in _active_catalogue() if row.provider == provider]


def llm_model_for(*, provider: str, name: str) -> LlmModel | None:
    return next((row for row in llm_models_of(provider=provider) if row.name == name), None)


def llm_model_default(*, provider: str) -> LlmModel | None:
    """The provider's default model, else its first by (sort order, name)."""
    rows = llm_models_of(provider=provider)
    return next((row for row in rows if row.is_default), rows[0] if rows else None)


def llm_cost_cents(*, provider: str, model: str, input_tokens: int, output_tokens: int) -> int:
    """What the tokens cost at catalogue prices, rounded up to a whole cent (a model that
    is not in the catalogue, like the fallback designer, costs nothing)."""
    row = LlmModel.objects.filter(provider=provider, name=model).first()
    if row is None or (input_tokens <= 0 and output_tokens <= 0):
        return 0
    micro = (
        input_tokens * row.input_cents_per_million + output_tokens * row.output_cents_per_million
    )
    return -(-micro // 1_000_000)


# --- crew templates


def crew_templates_for(*, organization: Organization) -> QuerySet[CrewTemplate]:
    """Starter blueprints and, while its plan includes custom templates, the organisation's
    own templates (starters first). After a downgrade the custom ones are kept, not offered."""
    scope = Q(organization__isnull=True)
    if plan_allows(organization, Feature.CUSTOM_TEMPLATES):
        scope |= Q(organization=organization)
    return CrewTemplate.objects.filter(scope, active=True).order_by(
        F("organization_id").asc(nulls_first=True), "name"
    )


def crew_template_for(*, organization: Organization, slug: str) -> CrewTemplate | None:
    """The organisation's own template with that slug, else the starter."""
    templates = crew_templates_for(organization=organization).filter(slug=slug)
    return templates.filter(organization=organization).first() or templates.first()
