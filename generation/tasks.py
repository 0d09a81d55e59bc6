"""The generation queue: a Celery task around ``services.generation_run``, with the retry
policy and the failure path, plus the in-process runners of the embedded default.

Time limits, innermost first — each must fit inside the next:

    provider timeout x provider calls per run  <  soft_time_limit  <  time_limit
                                               <  broker visibility_timeout

- A run makes at most ``PROVIDER_CALLS_PER_RUN`` provider calls (design + one repair,
  twice when the checks fail once) and the SDK does not retry (``max_retries=0``): the
  task owns retries.
- ``soft_time_limit`` is the run's deadline; the thread pool cannot interrupt a thread, so
  ``services._advance`` also enforces it between stages.
- ``time_limit`` kills a stuck prefork child.
- Redis redelivers an unacknowledged message only after ``visibility_timeout``: it must
  exceed the hard limit, or a live run would be handed to a second worker.

``acks_late`` + ``reject_on_worker_lost``: a message is acknowledged when the run ends, so
a worker killed mid-generation leaves it in Redis (redelivered after the visibility
timeout). Long before that, the run's heartbeat goes silent and beat's recovery scan
(``generation.recover_lost``) queues it again, within about a minute and a half; the
service's claim token makes every extra delivery harmless (no double charge, no
duplicate files).

Database outages: the service retries each write in place for up to a minute; past that
the run raises ``RunInterrupted`` and the task is retried with the same claim token —
never failed for it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection

from crewbuilder.providers import MAX_CALLS_PER_DESIGN, ProviderAuthError, provider_timeout
from generation import services

logger = logging.getLogger("crewbuilder.generation")

# design + one repair, and the designer runs a second time when the checks fail once
PROVIDER_CALLS_PER_RUN = 2 * MAX_CALLS_PER_DESIGN
_jitter = random.Random()  # noqa: S311 - jitter spreads retries; it is not a secret


def time_limits() -> dict[str, float]:
    """The ordered limits, in seconds (see the module docstring)."""
    return {
        "provider_calls": provider_timeout() * PROVIDER_CALLS_PER_RUN,
        "soft_time_limit": settings.CREWBUILDER_GENERATION_SOFT_TIME_LIMIT,
        "time_limit": settings.CREWBUILDER_GENERATION_TIME_LIMIT,
        "visibility_timeout": settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"],
    }


def time_limits_ordered() -> bool:
    values = list(time_limits().values())
    return all(a < b for a, b in zip(values, values[1:], strict=False))


if not time_limits_ordered():  # a misconfiguration, loudly, but not fatal for a test worker
    logger.warning("generation time limits are not ordered: %s", time_limits())


def retry_delay(*, retries: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter ("equal jitter": half fixed, half random), never
    sooner than the provider's ``Retry-After``."""
    base = settings.CREWBUILDER_GENERATION_RETRY_BASE_SECONDS
    cap = settings.CREWBUILDER_GENERATION_RETRY_MAX_SECONDS
    backoff = min(cap, base * (2**retries))
    delay = backoff / 2 + _jitter.uniform(0, backoff / 2)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, retry_after + _jitter.uniform(0, base / 4))
    return delay


@dataclass(frozen=True)
class Attempt:
    """The next attempt of a run: after ``delay`` seconds, continuing the claim
    ``resume_token`` when set (the database went away mid-run)."""

    delay: float
    resume_token: str | None = None


def generation_execute(
    generation_id: str, *, retries: int = 0, resume_token: str | None = None
) -> Attempt | None:
    """One attempt. Returns when and how to try again, or None when the generation needs
    nothing more from this message (succeeded, failed, waiting for answers, or gone)."""
    try:
        services.generation_run(
            generation_id=generation_id,
            resume_token=uuid.UUID(resume_token) if resume_token else None,
        )
    except services.RunError as exc:
        error = exc.error
        if error.retryable and retries < settings.CREWBUILDER_GENERATION_MAX_RETRIES:
            delay = retry_delay(retries=retries, retry_after=error.retry_after)
            services.generation_retry_scheduled(
                generation_id=generation_id,
                run_token=exc.run_token,
                delay_seconds=delay,
                error=error,
            )
            logger.info(
                "generation %s: %s, retry %d in %.1fs",
                generation_id,
                error.code,
                retries + 1,
                delay,
            )
            return Attempt(delay)
        services.generation_fail(
            generation_id=generation_id,
            code=error.code,
            message=error.message,
            run_token=exc.run_token,
            key_rejected=isinstance(error, ProviderAuthError),
        )
    except (services.RunInterrupted, *services.DB_TRANSIENT_ERRORS) as exc:
        # The database stayed away longer than a run waits in place. Nothing is failed
        # (the user's generation is not at fault, and nothing could be written): the
        # message is retried, continuing the same claim. Past the retries, the heartbeat
        # scan requeues it once the database is back.
        token = getattr(exc, "run_token", None)
        if retries >= settings.CREWBUILDER_GENERATION_MAX_RETRIES:
            logger.error("generation %s: database unreachable, retries exhausted", generation_id)
            return None
        delay = retry_delay(retries=retries, retry_after=None)
        logger.warning(
            "generation %s: database unreachable, retry %d in %.1fs",
            generation_id,
            retries + 1,
            delay,
        )
        return Attempt(delay, str(token) if token else resume_token)
    except SoftTimeLimitExceeded:
        services.reconnect_if_broken()
        services.generation_fail(
            generation_id=generation_id,
            code="timeout",
            message="The generation took too long and was stopped. Nothing was charged.",
        )
    except Exception:
        # A bug, not the user's fault: record it (secrets are redacted by the log filter),
        # fail the generation honestly and give the charge back — on a fresh connection if
        # the error left this one broken.
        logger.exception("generation %s crashed", generation_id)
        services.reconnect_if_broken()
        services.generation_fail(
            generation_id=generation_id,
            code="internal_error",
            message="Something went wrong on our side. Nothing was charged; please try again.",
        )
    return None


@shared_task(
    bind=True,
    name="generation.run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CREWBUILDER_GENERATION_SOFT_TIME_LIMIT,
    time_limit=settings.CREWBUILDER_GENERATION_TIME_LIMIT,
    max_retries=settings.CREWBUILDER_GENERATION_MAX_RETRIES,
)
def generation_run_task(self, generation_id: str, resume_token: str | None = None) -> None:
    attempt = generation_execute(
        generation_id, retries=self.request.retries, resume_token=resume_token
    )
    if attempt is not None:
        resume = {"resume_token": attempt.resume_token} if attempt.resume_token else {}
        raise self.retry(countdown=attempt.delay, args=[generation_id], kwargs=resume)


def generation_run_inline(generation_id: str) -> None:
    """The same attempts and retry policy without a broker (embedded default, tests)."""
    retries = 0
    resume_token = None
    while attempt := generation_execute(generation_id, retries=retries, resume_token=resume_token):
        time.sleep(attempt.delay)
        retries += 1
        resume_token = attempt.resume_token


def _run_in_thread(generation_id: str) -> None:
    close_old_connections()
    try:
        generation_run_inline(generation_id)
    finally:
        connection.close()


def generation_enqueue(generation_id) -> None:
    """Start a generation after its row is committed, per ``CREWBUILDER_GENERATION_RUNNER``:
    ``celery`` (Redis broker, workers), ``thread`` (embedded default: a background thread
    of the web process, so the page polls live progress) or ``sync`` (inline)."""
    runner = settings.CREWBUILDER_GENERATION_RUNNER
    if runner == "celery":
        generation_run_task.delay(str(generation_id))
    elif runner == "thread":
        threading.Thread(
            target=_run_in_thread,
            args=(str(generation_id),),
            name=f"generation-{generation_id}",
            daemon=True,
        ).start()
    else:
        generation_run_inline(str(generation_id))


@shared_task(name="generation.recover_lost", ignore_result=True)
def generation_recover_lost_task() -> int:
    """Every ``CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS`` on beat: queue again the
    generations whose worker went silent (see ``services.generations_recover_lost``)."""
    return len(services.generations_recover_lost())


@shared_task(name="generation.expire_unanswered")
def generation_expire_unanswered_task() -> int:
    return len(services.generations_expire_unanswered())
