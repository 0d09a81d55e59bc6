"""Generation writes: create (validate, resolve the key, reserve the charge, enqueue), run
(design → render → check → package, persisting each real stage), fail (release the charge
exactly once), clarifying questions, and organisation templates.

Queue semantics (see also ``generation/tasks.py``):

- A run *claims* the generation with a fresh ``run_token``. Anything it writes later is
  conditional on still holding that token, so a run that was presumed dead (its message
  was redelivered after a SIGKILL) can never write a second result or commit a charge.
- A finished generation (succeeded or failed) is never run again; a redelivered message
  for it is a no-op. The result (design, files, zip) lives on the generation row and is
  overwritten, never appended, so a re-run cannot duplicate files.
- ``charge_commit`` runs in the same transaction as the switch to ``succeeded`` and
  ``charge_release`` in the same transaction as the switch to ``failed``; both switches
  happen at most once under a row lock.
"""

from __future__ import annotations

import functools
import logging
import operator
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Organization, User
from accounts.permissions import Cap, can
from accounts.services import audit_record, role_of
from billing import services as billing
from billing.selectors import Feature, entitlements_for, plan_refusal
from billing.tenancy import Tenant, tenant_for
from crewbuilder.errors import BROKER_UNAVAILABLE, ApplicationError, ServiceUnavailable
from crewbuilder.metrics import GENERATION_STAGE_SECONDS
from crewbuilder.outage import degraded, unavailable_response
from crewbuilder.providers import DEFAULT_MODELS, PROVIDERS, ProviderError, provider_label
from crewbuilder.redaction import scrub_key
from generation import selectors
from generation.checks import FIT_CHECK, CheckResult, run_checks
from generation.design import CrewDesign, DesignInvalid, validate_design
from generation.designer import DesignResult, design_crew, requirement_analysis
from generation.fit import FitReport, fit_report
from generation.models import CrewTemplate, Generation, LlmModel
from generation.packaging import build_zip
from generation.renderer import render_project
from generation.requirements import requirement_problems
from generation.signals import generation_outcome_on_commit
from keys import services as keys
from keys.services import ResolvedKey

logger = logging.getLogger("crewbuilder.generation")

KEY_SOURCES = tuple(Generation.KeySource.values)
STAGE_PROGRESS = {
    Generation.Stage.QUEUED: 0,
    Generation.Stage.DESIGNING: 10,
    Generation.Stage.RENDERING: 55,
    Generation.Stage.CHECKING: 70,
    Generation.Stage.PACKAGING: 90,
    Generation.Stage.DONE: 100,
}
MAX_QUESTIONS = 3
MAX_ANSWER_CHARS = 1000


class IdempotencyConflict(ApplicationError):  # noqa: N818 - an HTTP-style outcome (409)
    """The idempotency key was already used with a different request body."""

    code = "idempotency_conflict"
    status = 409


class GenerationError(Exception):
    """A known reason a run cannot go on (not a provider error), with a safe message."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass
class RunError(Exception):
    """A provider error raised during a run, with the run's claim token so the task can
    retry or fail exactly this run (and not a newer one)."""

    error: ProviderError
    run_token: uuid.UUID

    def __str__(self) -> str:
        return f"{type(self.error).__name__}: {self.error.message}"


class RunSuperseded(Exception):  # noqa: N818 - reads as a state
    """Another run claimed the generation; this one must stop without writing."""


@dataclass
class RunInterrupted(Exception):  # noqa: N818 - reads as a state
    """The database stayed unreachable longer than a run waits in place
    (``CREWBUILDER_GENERATION_DB_RETRY_SECONDS``): nothing was written as failed, and the
    task queues the run again with its claim token (``run_token``, None when the claim
    itself could not be made)."""

    run_token: uuid.UUID | None

    def __str__(self) -> str:
        return "the database is unreachable"


# --------------------------------------------------------------------------- database blips

# What a dropped connection, a database restart or a failover raise (psycopg's
# AdminShutdown, "server closed the connection", "the connection is lost"), and also a
# deadlock or serialization failure: all transient, all worth another try.
DB_TRANSIENT_ERRORS = (OperationalError, InterfaceError)

P = ParamSpec("P")
R = TypeVar("R")


def db_retrying(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` again when the database connection breaks under it.

    A broken connection cannot be used again, so it is closed (Django opens a new one on
    the next query) and ``func`` is retried with a short exponential backoff, for at most
    ``CREWBUILDER_GENERATION_DB_RETRY_SECONDS`` in all; then the error propagates. Every
    function wrapped is safe to repeat: each is one transaction (rolled back when the
    connection died in it) or one conditional UPDATE, checked against the run's claim
    token, and a transaction that did commit before its reply was lost is seen as done on
    the next try (the generation is finished, or the claim is already this run's).

    Inside a caller's transaction nothing is retried: the unit to repeat is the caller's.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        budget = settings.CREWBUILDER_GENERATION_DB_RETRY_SECONDS
        deadline = time.monotonic() + budget
        delay = min(0.25, budget / 8) if budget > 0 else 0
        attempt = 0
        while True:
            try:
                return func(*args, **kwargs)
            except DB_TRANSIENT_ERRORS as exc:
                connection.close()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                attempt += 1
                logger.warning(
                    "database unavailable in %s (%s); try %d again in %.2f s",
                    func.__name__,
                    type(exc).__name__,
                    attempt + 1,
                    min(delay, remaining),
                )
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 8.0)

    return wrapper


def reconnect_if_broken() -> None:
    """Before writing after an unknown error: drop the connection if it is unusable (the
    error may have been the database going away), so the next query opens a fresh one."""
    if not connection.in_atomic_block:
        close_old_connections()


# --------------------------------------------------------------------------- create


def _model_for(*, provider: str, model: str | None) -> tuple[LlmModel | None, str, list[str]]:
    if model:
        row = selectors.llm_model_for(provider=provider, name=model)
        if row is None:
            # the same kept catalogue the lookup used, so the list and the refusal agree
            names = ", ".join(m.name for m in selectors.llm_models_of(provider=provider))
            return None, model, [f"Unknown {provider} model {model!r}. Available: {names}."]
        return row, row.name, []
    row = selectors.llm_model_default(provider=provider)
    return row, row.name if row else DEFAULT_MODELS.get(provider, ""), []


GENERATE_DENIED = "Your role in this organisation does not allow generating."


def _require_role(*, user: User | None, organization: Organization, capability: str) -> None:
    if user is None:  # the /try/ guest flow: no person, no role
        return
    if not can(role_of(user=user, organization=organization), capability):
        raise PermissionDenied(GENERATE_DENIED)


@dataclass(frozen=True)
class GenerationOrder:
    """What was asked for: the generate page's form or the API's body, not yet checked."""

    requirement: str
    key_source: str
    provider: str
    model: str | None = None
    api_key: str | None = None
    template: str | None = None
    allow_questions: bool = False
    idempotency_key: str | None = None
    request_fingerprint: str = ""
    # Someone waits for the answer (a page, an API client): when the broker cannot take
    # the run, fail the generation, give the charge back and answer 503. False (the paid
    # guest's Stripe webhook) leaves it queued for the stale-work scan instead.
    refuse_unqueued: bool = True


@dataclass(frozen=True)
class _CheckedOrder:
    """An order that passed validation: the cleaned text and key, the catalogue's model
    and the template."""

    requirement: str
    api_key: str
    llm: LlmModel | None
    model_name: str
    template: CrewTemplate | None


def _existing_for_idempotency(
    *, organization: Organization, idempotency_key: str, request_fingerprint: str
) -> Generation | None:
    existing = Generation.objects.filter(
        organization=organization, idempotency_key=idempotency_key
    ).first()
    if existing is not None and existing.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was already used with a different request.")
    return existing


def generation_create(
    *,
    organization: Organization,
    user: User | None,
    requirement: str,
    key_source: str,
    provider: str,
    model: str | None = None,
    api_key: str | None = None,
    template: str | None = None,
    idempotency_key: str | None = None,
    request_fingerprint: str = "",
    allow_questions: bool = False,
    refuse_unqueued: bool = True,
) -> Generation:
    """``generation_create_for`` for a caller that has no tenant yet (the guest flow,
    commands, tests): reads the user's role and the billing account first."""
    return generation_create_for(
        tenant=tenant_for(organization=organization, user=user),
        order=GenerationOrder(
            requirement=requirement,
            key_source=key_source,
            provider=provider,
            model=model,
            api_key=api_key,
            template=template,
            allow_questions=allow_questions,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            refuse_unqueued=refuse_unqueued,
        ),
    )


@transaction.atomic
def generation_create_for(*, tenant: Tenant, order: GenerationOrder) -> Generation:
    """Validate, resolve which key pays, reserve the charge and queue the generation.

    Raises ``ValidationError`` (a field dict) for bad input, ``PermissionDenied`` for a
    role that may not generate, ``IdempotencyConflict`` for a reused key with another
    body, and billing's ``PaymentRequired`` / ``PlanNotAllowed`` untouched. Nothing is
    created when any of them is raised. A one-time ``api_key`` is handed to the keys
    service and only its opaque reference is stored.

    The tenant carries what the request already read (the role, the billing account);
    ``tenant.personal_keys`` False (API tokens) resolves ``stored`` to the organisation's
    keys only: an organisation's token never spends its creator's personal provider key.
    """
    if not tenant.can(Cap.GENERATE):
        raise PermissionDenied(GENERATE_DENIED)
    if order.idempotency_key:
        existing = _existing_for_idempotency(
            organization=tenant.organization,
            idempotency_key=order.idempotency_key,
            request_fingerprint=order.request_fingerprint,
        )
        if existing is not None:
            return existing
    checked = _order_checked(tenant=tenant, order=order)
    generation = _generation_new(tenant=tenant, order=order, checked=checked)
    if order.idempotency_key:
        winner = _insert_first(generation, order=order)
        if winner is not None:
            return winner
    _charge_and_save(generation, tenant=tenant, order=order, api_key=checked.api_key)
    _enqueue_on_commit(generation.id, refuse_unqueued=order.refuse_unqueued)
    return generation


def _order_checked(*, tenant: Tenant, order: GenerationOrder) -> _CheckedOrder:
    """The order's input rules, every broken one reported at once as a field error."""
    provider, key_source = order.provider, order.key_source
    requirement = (order.requirement or "").strip()
    api_key = (order.api_key or "").strip()
    errors: dict[str, list[str]] = {}
    if problems := requirement_problems(requirement):
        errors["requirement"] = problems
    if key_source not in KEY_SOURCES:
        errors["key_source"] = [f"Choose one of: {', '.join(KEY_SOURCES)}."]
    if provider not in PROVIDERS:
        errors["provider"] = [f"Choose one of: {', '.join(PROVIDERS)}."]
    if key_source == Generation.KeySource.ONE_TIME:
        if not api_key:
            errors["api_key"] = ["Paste the API key to use for this generation."]
        elif provider in PROVIDERS:
            # the keys service checks the format (and opens a key the browser encrypted)
            try:
                api_key = keys.provider_key_clean(provider=provider, api_key=api_key)
            except ValidationError as exc:
                errors["api_key"] = exc.message_dict.get("api_key") or exc.messages
    elif api_key:
        errors["api_key"] = ["An API key is only accepted with the one-time key option."]
    llm, model_name = None, ""
    if provider in PROVIDERS:
        llm, model_name, problems = _model_for(provider=provider, model=order.model)
        if problems:
            errors["model"] = problems
    crew_template = None
    if order.template:
        crew_template = selectors.crew_template_for(
            organization=tenant.organization, slug=order.template
        )
        if crew_template is None:
            errors["template"] = [f"Unknown template {order.template!r}."]
    if errors:
        raise ValidationError(errors)
    return _CheckedOrder(requirement, api_key, llm, model_name, crew_template)


def _key_resolved(*, tenant: Tenant, order: GenerationOrder) -> tuple[str, int | None]:
    """(the key's source, the stored key's id): which key will pay for the run."""
    if order.key_source == Generation.KeySource.STORED:
        stored = keys.provider_key_resolve(
            organization=tenant.organization,
            user=tenant.user if tenant.personal_keys else None,
            provider=order.provider,
            allow_platform=False,
        )
        if stored is None or stored.source not in {"user", "organization"}:
            label = provider_label(order.provider)
            raise ValidationError(
                {
                    "key_source": [
                        f"There is no {label} key saved for you or your organisation. Add one "
                        "in Settings → API keys, or choose another option."
                    ]
                }
            )
        return stored.source, stored.key_id
    if order.key_source == Generation.KeySource.ONE_TIME:
        return "one_time", None
    # CrewBuilder AI: the platform key, or the deterministic designer when the deployment
    # has none (the embedded default).
    return ("platform" if keys.platform_key(order.provider) else "fallback"), None


def _generation_new(
    *, tenant: Tenant, order: GenerationOrder, checked: _CheckedOrder
) -> Generation:
    """The generation row, not saved yet."""
    resolved_source, key_id = _key_resolved(tenant=tenant, order=order)
    # Plan gates (quota, credits, advanced models on CrewBuilder AI) live in one place:
    # billing's charge reservation, told the model class below.
    model_class = checked.llm.model_class if checked.llm else LlmModel.ModelClass.STANDARD
    provider_used, model_name = order.provider, checked.model_name
    if resolved_source == "fallback":
        provider_used, model_name, model_class = "fallback", "fallback", "standard"
    return Generation(
        organization=tenant.organization,
        user=tenant.user,
        template=checked.template,
        requirement=checked.requirement,
        provider=provider_used,
        model=model_name,
        key_source=order.key_source,
        resolved_key_source=resolved_source,
        provider_key_id=key_id,
        personal_keys_allowed=tenant.personal_keys,
        model_class=model_class,
        allow_questions=order.allow_questions,
        idempotency_key=order.idempotency_key or None,
        request_fingerprint=order.request_fingerprint,
    )


def _insert_first(generation: Generation, *, order: GenerationOrder) -> Generation | None:
    """Insert an idempotent request's row before anything is reserved, in a savepoint: a
    concurrent identical request that won the race on the unique (organisation, key)
    makes this INSERT fail, and this request answers with the winner's generation
    (returned; None when this request won)."""
    try:
        with transaction.atomic():
            generation.save(force_insert=True)
    except IntegrityError:
        existing = _existing_for_idempotency(
            organization=generation.organization,
            idempotency_key=order.idempotency_key or "",
            request_fingerprint=order.request_fingerprint,
        )
        if existing is None:
            raise
        return existing
    return None


def _charge_and_save(
    generation: Generation, *, tenant: Tenant, order: GenerationOrder, api_key: str
) -> None:
    # Every error here propagates and rolls the whole creation back, so billing needs no
    # savepoint of its own; the generation id is new, so no charge exists yet.
    charge = billing.charge_reserve(
        organization=tenant.organization,
        tenant=tenant,
        new_generation=True,
        generation_id=generation.id,
        key_source=generation.resolved_key_source,
        model_class=generation.model_class,
    )
    generation.charged_as = charge.charged_as
    if order.key_source == Generation.KeySource.ONE_TIME:
        generation.one_time_key_ref = keys.one_time_key_stash(
            api_key=api_key, provider=order.provider
        )
    if order.idempotency_key:
        generation.save(update_fields=["charged_as", "one_time_key_ref"])
    else:
        # No race to lose: one INSERT with the charge already known (no UPDATE after it).
        generation.save(force_insert=True)
    audit_record(
        organization=tenant.organization,
        actor=tenant.user,
        action="generation.created",
        target=generation,
        metadata={
            "provider": generation.provider,
            "model": generation.model,
            "key_source": order.key_source,
            "charged_as": generation.charged_as,
        },
    )


QUEUE_UNAVAILABLE_MESSAGE = (
    "The generation could not be queued because the job queue is unavailable. Nothing was "
    "charged; please try again in a moment."
)


def _enqueue_on_commit(generation_id: uuid.UUID | str, *, refuse_unqueued: bool = False) -> None:
    """Queue the run once the generation's row is committed.

    ``refuse_unqueued`` (a user is waiting on the answer): when the broker cannot be
    reached (the publish gives up after the bounded timeouts in settings), the generation
    is failed with ``queue_unavailable`` — which gives its charge back exactly once — and
    ``ServiceUnavailable`` (503, Retry-After) is raised to the caller. Its idempotency key
    is freed, so a client retrying with the same key gets a new generation."""
    from generation.tasks import generation_enqueue  # tasks imports this module

    def enqueue() -> None:
        try:
            generation_enqueue(generation_id)
        except BROKER_UNAVAILABLE as exc:
            if not refuse_unqueued:
                # kept queued (and charged): the recovery scan queues it once the broker
                # is back, and says so instead of "worker lost"
                Generation.objects.filter(pk=generation_id, status=Generation.Status.QUEUED).update(
                    queue_unavailable_at=timezone.now()
                )
                raise
            unavailable_response("broker", exc)
            generation_enqueue_failed(generation_id=generation_id)
            raise ServiceUnavailable(QUEUE_UNAVAILABLE_MESSAGE) from exc

    transaction.on_commit(enqueue)


def generation_enqueue_failed(*, generation_id: uuid.UUID | str) -> None:
    """The run could not be queued: fail the generation (its charge is released exactly
    once by ``generation_fail``) and free its idempotency key for the client's retry."""
    generation_fail(
        generation_id=generation_id, code="queue_unavailable", message=QUEUE_UNAVAILABLE_MESSAGE
    )
    Generation.objects.filter(pk=generation_id, error_code="queue_unavailable").update(
        idempotency_key=None
    )


# --------------------------------------------------------------------------- run


@db_retrying
def _claim(generation_id: uuid.UUID | str, token: uuid.UUID) -> Generation | None:
    """Take the generation for this run, or None when there is nothing to do."""
    with transaction.atomic():
        g = (
            Generation.objects.select_for_update(of=("self",))
            .select_related("organization", "user", "template")
            .filter(pk=generation_id)
            .first()
        )
        if g is None or g.is_finished or g.awaiting_answers:
            return None
        now = timezone.now()
        if g.run_token == token:
            # Our own claim: an earlier try committed (its reply was lost), or the task
            # resumes this run after the database came back.
            Generation.objects.filter(pk=g.pk).update(heartbeat_at=now, worker_lost_at=None)
        else:
            g.status = Generation.Status.RUNNING
            g.stage = Generation.Stage.DESIGNING
            g.progress = STAGE_PROGRESS[Generation.Stage.DESIGNING]
            g.started_at = g.started_at or now
            g.updated_at = now
            g.run_token = token
            g.runs += 1
            g.notice = ""
            g.heartbeat_at = now
            g.worker_lost_at = None
            g.queue_unavailable_at = None
            g.save(
                update_fields=[
                    "status",
                    "stage",
                    "progress",
                    "started_at",
                    "updated_at",
                    "run_token",
                    "runs",
                    "notice",
                    "heartbeat_at",
                    "worker_lost_at",
                    "queue_unavailable_at",
                ]
            )
        g.run_deadline = now + timedelta(seconds=settings.CREWBUILDER_GENERATION_SOFT_TIME_LIMIT)
        g.stage_started = time.monotonic()  # for the stage-duration metric
        return g


@db_retrying
def _advance(g: Generation, token: uuid.UUID, stage: Generation.Stage) -> None:
    """Persist a real stage transition at once (the page polls it), only while this run
    still holds the claim. A run past its deadline stops here: the thread pool cannot
    enforce Celery's time limits, so the service does (see README "Generation")."""
    if timezone.now() > g.run_deadline:
        raise GenerationError(
            "timeout", "The generation took too long and was stopped. Nothing was charged."
        )
    now = timezone.now()
    updated = Generation.objects.filter(pk=g.pk, run_token=token).update(
        stage=stage,
        progress=STAGE_PROGRESS[stage],
        updated_at=now,
        heartbeat_at=now,
        worker_lost_at=None,
        notice="",  # a run found lost that was only slow clears "worker lost — retrying"
    )
    if not updated:
        raise RunSuperseded(str(g.pk))
    _stage_timed(g)
    g.stage, g.progress = stage, STAGE_PROGRESS[stage]


def _stage_timed(g: Generation) -> None:
    now = time.monotonic()
    GENERATION_STAGE_SECONDS.labels(stage=g.stage).observe(now - g.stage_started)
    g.stage_started = now


@db_retrying  # the one-time branch reads the cache only, so a retry never takes the key twice
def _run_key(g: Generation) -> ResolvedKey | None:
    """The key for this run (None → deterministic designer). The secret stays in memory."""
    if g.resolved_key_source == "fallback":
        return None
    if g.key_source == Generation.KeySource.ONE_TIME:
        secret = keys.one_time_key_take(ref=g.one_time_key_ref) if g.one_time_key_ref else None
        if not secret:
            raise GenerationError(
                "one_time_key_expired",
                "The one-time key is no longer available (it is held for one hour and used "
                "once). Start a new generation with the key.",
            )
        return ResolvedKey(provider=g.provider, source="one_time", secret=secret)
    if g.key_source == Generation.KeySource.STORED:
        key = keys.provider_key_resolve(
            organization=g.organization,
            user=g.user if g.personal_keys_allowed else None,
            provider=g.provider,
            allow_platform=False,
        )
        if key is None or key.source not in {"user", "organization"}:
            raise GenerationError(
                "key_unavailable",
                f"The stored {provider_label(g.provider)} key was removed "
                "before the generation ran.",
            )
        if key.key_id != g.provider_key_id:
            Generation.objects.filter(pk=g.pk).update(provider_key_id=key.key_id)
            g.provider_key_id = key.key_id
        return key
    secret = keys.platform_key(g.provider)
    if not secret:
        raise GenerationError(
            "key_unavailable", "CrewBuilder AI is not available for this provider right now."
        )
    return ResolvedKey(provider=g.provider, source="platform", secret=secret)


def _release_connection_during_io(key: ResolvedKey | None) -> None:
    """A run waits seconds on the provider and a thread-pool worker keeps ~100 runs in
    flight: holding a database connection per waiting run would exhaust Postgres (100
    connections by default). Outside a transaction, close it; Django reopens it on the
    next query."""
    if key is not None and not connection.in_atomic_block:
        connection.close()


@db_retrying
def _keep_one_time_key(g: Generation, key: ResolvedKey | None) -> None:
    """Hand a one-time key back to the keys service for the next attempt (a retry after a
    429, or the run after clarifying questions): only the new reference is stored."""
    if key is None or key.source != "one_time":
        return
    ref = keys.one_time_key_stash(api_key=key.secret, provider=key.provider)
    Generation.objects.filter(pk=g.pk).update(one_time_key_ref=ref)


@dataclass
class _Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, result: DesignResult) -> None:
        self.input_tokens += result.input_tokens
        self.output_tokens += result.output_tokens


def _record_usage(g: Generation, usage: _Usage) -> dict:
    cost = selectors.llm_cost_cents(
        provider=g.provider,
        model=g.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
    )
    return {
        "input_tokens": g.input_tokens + usage.input_tokens,
        "output_tokens": g.output_tokens + usage.output_tokens,
        "cost_cents": g.cost_cents + cost,
    }


class _Heartbeat:
    """One daemon thread per worker process beats for every run in flight in it, every
    ``CREWBUILDER_GENERATION_HEARTBEAT_SECONDS`` — mostly while runs wait on the provider,
    since each stage beats too. It stops when no run is left, and starts again with the
    next (a forked pool child starts its own)."""

    def __init__(self) -> None:
        self._runs: dict[uuid.UUID | str, uuid.UUID] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, generation_id: uuid.UUID | str, token: uuid.UUID) -> None:
        with self._lock:
            self._runs[generation_id] = token
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="generation-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, generation_id: uuid.UUID | str, token: uuid.UUID) -> None:
        with self._lock:
            if self._runs.get(generation_id) == token:
                del self._runs[generation_id]

    def _loop(self) -> None:
        while True:
            time.sleep(settings.CREWBUILDER_GENERATION_HEARTBEAT_SECONDS)
            with self._lock:
                runs = list(self._runs.items())
                if not runs:
                    self._thread = None
                    return
            try:
                generations_heartbeat(runs=runs)
            except DB_TRANSIENT_ERRORS as exc:  # the next beat tries again
                logger.warning("generation heartbeat not written: %s", type(exc).__name__)
            finally:
                connection.close()  # this thread's own; do not hold it between beats


_heartbeat = _Heartbeat()


def generations_heartbeat(*, runs: list[tuple[uuid.UUID | str, uuid.UUID]]) -> int:
    """Record a sign of life for each (generation id, claim token) still holding its claim."""
    if not runs:
        return 0
    held = functools.reduce(
        operator.or_, (Q(pk=generation_id, run_token=token) for generation_id, token in runs)
    )
    return Generation.objects.filter(held, status=Generation.Status.RUNNING).update(
        heartbeat_at=timezone.now(), worker_lost_at=None
    )


def generation_run(
    *, generation_id: uuid.UUID | str, resume_token: uuid.UUID | None = None
) -> Generation | None:
    """Run a queued generation to the end (the Celery task's body).

    Succeeds, fails honestly (checks failing twice, a known run error), or stops with
    clarifying questions. Provider errors are raised as ``RunError`` for the task to retry
    or fail. A finished generation, or one waiting for answers, is left untouched.

    Each database write waits out a short outage in place (``db_retrying``); a longer one
    raises ``RunInterrupted`` with the claim token, which the task passes back as
    ``resume_token`` so the next attempt continues this run's claim.
    """
    token = resume_token or uuid.uuid4()
    try:
        g = _claim(generation_id, token)
        if g is None:
            return _reloaded(generation_id)
        _heartbeat.add(g.pk, token)
        try:
            return _run_claimed(g, token)
        finally:
            _heartbeat.discard(g.pk, token)
    except DB_TRANSIENT_ERRORS as exc:
        # Still unreachable after waiting in place: nothing can be written now, and the
        # user's generation is not at fault. The task queues it again with this token.
        raise RunInterrupted(run_token=token) from exc


def _render_and_check(
    g: Generation,
    token: uuid.UUID,
    key: ResolvedKey | None,
    initial: CrewDesign,
    design_args: dict[str, Any],
    usage: _Usage,
) -> tuple[CrewDesign, dict[str, str], list[CheckResult], str]:
    """Render the design and check it; when checks fail, one more design (LLM path only),
    told exactly what failed. Returns the design, its files, the checks and a "fits partly"
    warning; raises _ChecksFailed / _DoesNotFit when the second round fails too."""
    design = initial
    analysis = requirement_analysis(requirement=g.requirement, answers=g.answers)
    fit_warning = ""
    for attempt in (1, 2):
        _advance(g, token, Generation.Stage.RENDERING)
        files = render_project(
            design, provider=key.provider if key else "openai", model=g.model if key else ""
        )
        _advance(g, token, Generation.Stage.CHECKING)
        checks = run_checks(files=files, design=design, analysis=analysis)
        failures = [c for c in checks if not c.passed]
        if not failures:
            break
        static = [c for c in failures if c.name != FIT_CHECK]
        report = fit_report(analysis, design)
        if attempt == 2 or (key is None and not static):
            # The built-in designer answers the same way twice: no second round.
            if static:
                raise _ChecksFailed(checks)
            if report.nothing_fits:
                raise _DoesNotFit(checks, report)
            fit_warning = f"Fits partly: missing {'; '.join(i.label for i in report.missed)}."
            break
        # One more design, told exactly what failed (the fit misses listed one by one).
        _advance(g, token, Generation.Stage.DESIGNING)
        _release_connection_during_io(key)
        result = design_crew(
            **design_args,
            feedback=[f"{c.name}: {c.message}" for c in static] + report.feedback(),
            allow_questions=False,
        )
        usage.add(result)
        if result.design is None:
            raise GenerationError("design_failed", "The designer returned no crew design.")
        design = result.design
    return design, files, checks, fit_warning


def _run_claimed(g: Generation, token: uuid.UUID) -> Generation | None:
    generation_id = g.pk
    usage = _Usage()
    key: ResolvedKey | None = None
    try:
        key = _run_key(g)
        blueprint = (
            g.template.blueprint if g.template is not None and g.template.blueprint else None
        )
        design_args: dict[str, Any] = {
            "requirement": g.requirement,
            "key": key,
            "model": g.model if key is not None else None,
            "blueprint": blueprint,
            "answers": g.answers,
        }
        _release_connection_during_io(key)
        result = design_crew(**design_args, allow_questions=g.allow_questions and g.answers is None)
        usage.add(result)
        if result.design is None:
            questions = [q.strip() for q in result.questions if q and q.strip()]
            if not questions:
                raise GenerationError("design_failed", "The designer returned no crew design.")
            _keep_one_time_key(g, key)
            return _ask_questions(g, token, questions[:MAX_QUESTIONS], usage)

        design, files, checks, fit_warning = _render_and_check(
            g, token, key, result.design, design_args, usage
        )
        _advance(g, token, Generation.Stage.PACKAGING)
        archive = build_zip(files=files, root=design.name)
        _stage_timed(g)
        return _finish(
            g,
            token,
            design=design,
            files=files,
            checks=checks,
            zip_data=archive,
            usage=usage,
            key=key,
            warning=fit_warning,
        )
    except ProviderError as exc:
        if key is not None:
            # A design error may quote the model's reply, which the provider controls.
            exc.message = scrub_key(exc.message, key.secret)
        if exc.retryable:
            _keep_one_time_key(g, key)
        # tokens spent on attempts before the failing call are billed too
        usage.input_tokens += getattr(exc, "input_tokens", 0) or 0
        usage.output_tokens += getattr(exc, "output_tokens", 0) or 0
        _save_usage(g, token, usage)
        raise RunError(error=exc, run_token=token) from exc
    except _ChecksFailed as exc:  # and _DoesNotFit
        generation_fail(
            generation_id=g.pk,
            code=exc.code,
            message=exc.message,
            checks=_checks_json(exc.checks),
            run_token=token,
            usage=usage,
        )
    except (GenerationError, DesignInvalid) as exc:
        code = getattr(exc, "code", "design_invalid")
        message = getattr(exc, "message", "The crew design was invalid.")
        generation_fail(
            generation_id=g.pk, code=code, message=message, run_token=token, usage=usage
        )
    except RunSuperseded:
        logger.warning("generation %s: run superseded by a newer run; stopping", g.pk)
    return _reloaded(generation_id)


@db_retrying
def _reloaded(generation_id: uuid.UUID | str) -> Generation | None:
    return Generation.objects.filter(pk=generation_id).first()


class _ChecksFailed(Exception):  # noqa: N818
    code = "checks_failed"

    def __init__(self, checks: list[CheckResult]) -> None:
        self.checks = checks
        failed = [c for c in checks if not c.passed]
        self.message = (
            f"The generated project failed {len(failed)} automatic check(s) twice "
            f"({', '.join(c.name for c in failed)}). Nothing was charged."
        )
        super().__init__("checks failed")


class _DoesNotFit(_ChecksFailed):  # noqa: N818
    code = "design_does_not_fit"

    def __init__(self, checks: list[CheckResult], report: FitReport) -> None:
        super().__init__(checks)
        self.report = report
        self.message = (
            "The designed crew does not fit the requirement, even after a repair round: "
            f"{report.summary()}. Nothing was charged."
        )[:1000]


def _checks_json(checks: list[CheckResult]) -> list[dict[str, Any]]:
    return [{"name": c.name, "passed": bool(c.passed), "message": c.message} for c in checks]


@db_retrying
def _save_usage(g: Generation, token: uuid.UUID, usage: _Usage) -> None:
    if usage.input_tokens or usage.output_tokens:
        with transaction.atomic():
            locked = Generation.objects.select_for_update().get(pk=g.pk)
            if locked.run_token == token:
                fields = _record_usage(locked, usage)
                Generation.objects.filter(pk=g.pk).update(**fields)


@db_retrying
def _ask_questions(
    g: Generation, token: uuid.UUID, questions: list[str], usage: _Usage
) -> Generation:
    with transaction.atomic():
        locked = Generation.objects.select_for_update().get(pk=g.pk)
        if locked.run_token != token or locked.is_finished:
            return locked
        for name, value in _record_usage(locked, usage).items():
            setattr(locked, name, value)
        locked.questions = questions
        locked.answers = None
        locked.status = Generation.Status.QUEUED
        locked.stage = Generation.Stage.QUEUED
        locked.progress = 0
        locked.updated_at = timezone.now()
        locked.notice = "Waiting for your answers to the designer's questions."
        locked.save()
        generation_outcome_on_commit(outcome="needs_input", generation=locked)
        return locked


@db_retrying
@transaction.atomic
def _finish(
    g: Generation,
    token: uuid.UUID,
    *,
    design: CrewDesign,
    files: dict[str, str],
    checks: list[CheckResult],
    zip_data: bytes,
    usage: _Usage,
    key: ResolvedKey | None,
    warning: str = "",
) -> Generation:
    locked = (
        Generation.objects.select_for_update(of=("self",))
        .select_related("organization", "user")
        .get(pk=g.pk)
    )
    if locked.run_token != token or locked.is_finished:
        # A newer run owns it, or it is already finished: write nothing, charge nothing.
        return locked
    for name, value in _record_usage(locked, usage).items():
        setattr(locked, name, value)
    now = timezone.now()
    locked.design = design.model_dump(mode="json")
    locked.files = [
        {"path": path, "size": len(text.encode("utf-8"))} for path, text in sorted(files.items())
    ]
    locked.checks = _checks_json(checks)
    locked.zip_data = zip_data
    locked.status = Generation.Status.SUCCEEDED
    locked.stage = Generation.Stage.DONE
    locked.progress = 100
    locked.finished_at = now
    locked.updated_at = now
    locked.error_code = locked.error_message = ""
    # A design that fits only partly succeeds with the misses said plainly (also in checks).
    locked.notice = warning[:300]
    locked.one_time_key_ref = ""
    locked.save()
    billing.charge_commit(
        organization=locked.organization,
        generation_id=locked.id,
        charged_as=locked.charged_as,
    )
    if key is not None and key.key_id is not None:
        keys.provider_key_record_use(key_id=key.key_id, generation_id=locked.id, actor=locked.user)
    generation_outcome_on_commit(outcome="succeeded", generation=locked)
    return locked


@db_retrying
def generation_fail(
    *,
    generation_id: uuid.UUID | str,
    code: str,
    message: str,
    run_token: uuid.UUID | None = None,
    checks: list[dict] | None = None,
    usage: _Usage | None = None,
    key_rejected: bool = False,
) -> bool:
    """Mark the generation failed and give back what it was charged — exactly once.

    Returns False (and does nothing) when it is already finished or, with ``run_token``,
    when a newer run holds it. ``key_rejected`` flags the stored key invalid (the provider
    answered 401/403)."""
    with transaction.atomic():
        g = (
            Generation.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(pk=generation_id)
            .first()
        )
        if g is None or g.is_finished:
            return False
        if run_token is not None and g.run_token != run_token:
            return False
        if usage is not None:
            for name, value in _record_usage(g, usage).items():
                setattr(g, name, value)
        now = timezone.now()
        g.status = Generation.Status.FAILED
        g.finished_at = now
        g.updated_at = now
        g.error_code = code[:50]
        g.error_message = message
        g.notice = ""
        if checks is not None:
            g.checks = checks
        ref, g.one_time_key_ref = g.one_time_key_ref, ""
        g.save()
        billing.charge_release(
            organization=g.organization, generation_id=g.id, charged_as=g.charged_as
        )
        if key_rejected and g.provider_key_id is not None:
            keys.provider_key_mark_invalid(
                key_id=g.provider_key_id, reason=f"{g.provider} rejected the key ({code})"
            )
        generation_outcome_on_commit(outcome="failed", generation=g)
    if ref:
        keys.one_time_key_take(ref=ref)  # forget the unused one-time key
    logger.info("generation %s failed: %s", generation_id, code)
    return True


@db_retrying
def generation_retry_scheduled(
    *,
    generation_id: uuid.UUID | str,
    run_token: uuid.UUID,
    delay_seconds: float,
    error: ProviderError,
) -> None:
    """Put the generation back in the queue while the task waits to retry, telling the
    user why (shown on the page; the API keeps showing ``queued``)."""
    g = Generation.objects.filter(pk=generation_id).only("provider").first()
    if g is None:
        return
    who = provider_label(g.provider)
    why = (
        "is rate limiting requests"
        if error.code in {"rate_limited", "overloaded"}
        else ("is not responding")
    )
    Generation.objects.filter(pk=generation_id, run_token=run_token).exclude(
        status__in=Generation.FINAL_STATUSES
    ).update(
        status=Generation.Status.QUEUED,
        stage=Generation.Stage.QUEUED,
        progress=0,
        retries=F("retries") + 1,
        updated_at=timezone.now(),
        # not lost while it waits: its next sign of life is due when the retry is
        heartbeat_at=timezone.now() + timedelta(seconds=delay_seconds),
        notice=f"{who} {why}; retrying in {max(1, round(delay_seconds))} s.",
    )


WORKER_LOST_NOTICE = "The worker running this generation was lost; retrying."
QUEUE_RESUMED_NOTICE = "The job queue is back; the generation continues now."


def generations_recover_lost(*, lost_after: timedelta | None = None) -> list:
    """Queue again every unfinished generation with no sign of life for ``lost_after``
    (default ``CREWBUILDER_GENERATION_LOST_AFTER_SECONDS``): a running one whose worker
    stopped beating (SIGKILL, a lost host, a database outage longer than the worker's
    retries), a queued one whose message was lost (a Redis flush) or is long overdue.
    Generations waiting for answers, and scheduled retries not yet due, are left alone.
    One kept queued because the broker was down (``queue_unavailable_at``) is queued the
    same way but no worker was lost: it says so (``Generation.queue_resumed``).

    Claim-token safe and idempotent: each is marked with one conditional UPDATE (on the
    status and claim token it was seen with), so two scans never both queue it, and it
    is not queued again for another ``lost_after``. The message it gets claims it like
    any delivery (a new token: a lost run that comes back finds itself superseded), so it
    still finishes and is charged once. Beat runs it every
    ``CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS``. Returns the ids queued."""
    lost_after = lost_after or timedelta(seconds=settings.CREWBUILDER_GENERATION_LOST_AFTER_SECONDS)
    now = timezone.now()
    cutoff = now - lost_after
    silent = (
        Q(updated_at__lt=cutoff)
        & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff))
        & (Q(worker_lost_at__isnull=True) | Q(worker_lost_at__lt=cutoff))
    )
    candidates = (
        Generation.objects.filter(
            silent, status__in=[Generation.Status.QUEUED, Generation.Status.RUNNING]
        )
        .only("id", "status", "run_token", "questions", "answers", "queue_unavailable_at")
        .order_by("updated_at")
    )
    recovered = []
    for g in candidates:
        if g.awaiting_answers:
            continue
        unqueued = g.status == Generation.Status.QUEUED and g.queue_unavailable_at is not None
        marked = Generation.objects.filter(
            silent, pk=g.pk, status=g.status, run_token=g.run_token
        ).update(
            worker_lost_at=now, notice=QUEUE_RESUMED_NOTICE if unqueued else WORKER_LOST_NOTICE
        )
        if not marked:  # it moved on between the two queries
            continue
        logger.warning(
            "generation %s: no sign of life for %d s (%s); queueing it again",
            g.pk,
            lost_after.total_seconds(),
            "the broker was down when it was queued" if unqueued else g.status,
        )
        recovered.append(g.pk)
        with transaction.atomic():
            _enqueue_on_commit(g.pk)
    return recovered


def generations_expire_unanswered(*, older_than: timedelta | None = None) -> list:
    """Fail every generation whose clarifying questions went unanswered for
    ``older_than`` (default ``CREWBUILDER_QUESTIONS_TTL_HOURS``). Failing releases what it
    was charged, exactly once, so a walked-away user gets the quota or credit back.
    Returns the ids it failed."""
    ttl = older_than or timedelta(hours=settings.CREWBUILDER_QUESTIONS_TTL_HOURS)
    candidates = Generation.objects.filter(
        status=Generation.Status.QUEUED,
        answers__isnull=True,
        updated_at__lt=timezone.now() - ttl,
    ).only("id", "status", "questions", "answers", "finished_at")
    expired = []
    for g in candidates:
        if not g.awaiting_answers:
            continue
        hours = round(ttl.total_seconds() / 3600)
        if generation_fail(
            generation_id=g.id,
            code="questions_unanswered",
            message=(
                f"The designer's questions were not answered within {hours} hours, so the "
                "generation was stopped and its charge given back. Start a new one any time."
            ),
        ):
            expired.append(g.id)
    return expired


# --------------------------------------------------------------------------- questions


@transaction.atomic
def generation_answer_questions(
    *, generation: Generation, user: User, answers: dict[str, str]
) -> Generation:
    """Record the user's answers to the designer's questions and queue the generation
    again. ``answers`` maps each question to its answer; every question needs one. When the
    broker is down the answers are kept and the run starts later (``_continue_on_commit``)."""
    _require_role(user=user, organization=generation.organization, capability=Cap.GENERATE)
    g = Generation.objects.select_for_update().get(pk=generation.pk)
    if not g.awaiting_answers:
        raise ValidationError({"answers": ["This generation is not waiting for answers."]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for i, question in enumerate(g.questions):
        answer = (answers.get(question) or "").strip()
        if not answer:
            errors[f"answer_{i}"] = ["Answer this question (a few words are enough)."]
        elif len(answer) > MAX_ANSWER_CHARS:
            errors[f"answer_{i}"] = [f"Keep the answer under {MAX_ANSWER_CHARS} characters."]
        cleaned[question] = answer
    if errors:
        raise ValidationError(errors)
    g.answers = cleaned
    g.notice = ""
    g.updated_at = timezone.now()
    g.save(update_fields=["answers", "notice", "updated_at"])
    _continue_on_commit(g)
    return g


ANSWERS_KEPT_NOTICE = (
    "Your answers are saved. The job queue is unavailable right now, so the generation "
    "will continue on its own once it is back (usually within a few minutes); you can "
    "leave this page."
)


def _continue_on_commit(g: Generation) -> None:
    """Queue the run once the answers are committed.

    Unlike a new generation (refused with 503 when the broker is down: nothing is accepted
    or charged yet), an answered one already holds its charge and the user's answers, so
    a broker outage is not pushed back onto the user: the generation stays queued with its
    answers and a notice (``g.notice`` too, for the caller), nothing is failed or
    released, and beat's recovery scan (``generations_recover_lost``) queues it once it
    has been silent for ``CREWBUILDER_GENERATION_LOST_AFTER_SECONDS``. The run's claim
    token makes a message that did get through before the error harmless."""
    from generation.tasks import generation_enqueue  # tasks imports this module

    def enqueue() -> None:
        try:
            generation_enqueue(g.id)
        except BROKER_UNAVAILABLE as exc:
            degraded("generation_answers_queue", exc)
            now = timezone.now()
            Generation.objects.filter(
                pk=g.pk, status=Generation.Status.QUEUED, run_token=g.run_token
            ).update(notice=ANSWERS_KEPT_NOTICE, queue_unavailable_at=now)
            g.notice, g.queue_unavailable_at = ANSWERS_KEPT_NOTICE, now

    transaction.on_commit(enqueue)


# --------------------------------------------------------------------------- templates


@transaction.atomic
def crew_template_create(
    *,
    organization: Organization,
    actor: User,
    name: str,
    description: str = "",
    requirement: str = "",
    blueprint: dict[str, Any] | None = None,
) -> CrewTemplate:
    """Save an organisation template (plans with ``custom_templates`` only)."""
    _require_role(user=actor, organization=organization, capability=Cap.GENERATE)
    entitlements = entitlements_for(organization)
    if not entitlements.allows(Feature.CUSTOM_TEMPLATES):
        raise billing.PlanNotAllowed(
            plan_refusal(Feature.CUSTOM_TEMPLATES, plan_name=entitlements.plan_name)
        )
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = ["Give the template a name (up to 100 characters)."]
    if len(description or "") > 300:
        errors["description"] = ["Keep the description under 300 characters."]
    if requirement and (problems := requirement_problems(requirement.strip())):
        errors["requirement"] = problems
    if blueprint:
        try:
            blueprint = validate_design(blueprint).model_dump(mode="json")
        except DesignInvalid as exc:
            errors["blueprint"] = exc.errors[:5]
    if errors:
        raise ValidationError(errors)
    base = slugify(name)[:50] or "template"
    taken = set(
        CrewTemplate.objects.filter(organization=organization).values_list("slug", flat=True)
    ) | set(CrewTemplate.objects.filter(organization=None).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    template = CrewTemplate.objects.create(
        organization=organization,
        slug=slug,
        name=name,
        description=(description or "").strip(),
        requirement=(requirement or "").strip(),
        blueprint=blueprint or {},
        created_by=actor,
    )
    audit_record(
        organization=organization, actor=actor, action="crew_template.created", target=template
    )
    return template


@transaction.atomic
def crew_template_delete(*, template: CrewTemplate, actor: User) -> None:
    if template.organization is None:
        raise PermissionDenied("Starter templates cannot be deleted.")
    _require_role(user=actor, organization=template.organization, capability=Cap.GENERATE)
    audit_record(
        organization=template.organization,
        actor=actor,
        action="crew_template.deleted",
        target=template,
    )
    template.delete()
