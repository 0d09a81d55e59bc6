"""Generation pipeline models: a generation, the LLM model catalogue and crew templates.

State lives here as TextChoices; every transition is made by ``generation/services.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crewbuilder.providers import Provider


class LlmModel(models.Model):
    """One row of the model catalogue: what a model costs us per million tokens, in integer
    cents, and whether a plan needs ``advanced_models`` to use it. Operators edit it in the
    admin; the cost of every generation is computed from it."""

    class ModelClass(models.TextChoices):
        STANDARD = "standard", "Standard"
        ADVANCED = "advanced", "Advanced"

    provider = models.CharField(max_length=20, choices=Provider.choices)
    name = models.CharField(max_length=100, help_text="The provider's model id, e.g. gpt-4o-mini.")
    label = models.CharField(max_length=100, blank=True)
    model_class = models.CharField(
        max_length=20, choices=ModelClass.choices, default=ModelClass.STANDARD
    )
    input_cents_per_million = models.PositiveIntegerField(
        help_text="Price of one million input tokens, in US cents."
    )
    output_cents_per_million = models.PositiveIntegerField(
        help_text="Price of one million output tokens, in US cents."
    )
    active = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Used when a generation does not name a model."
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["provider", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name"], name="uniq_llm_model_per_provider"
            ),
            models.UniqueConstraint(
                fields=["provider"],
                condition=Q(is_default=True),
                name="uniq_default_llm_model_per_provider",
            ),
        ]
        verbose_name = "LLM model"

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


class CrewTemplate(models.Model):
    """A blueprint that pre-fills the requirement and steers the design. Starter templates
    are global (``organization`` null, seeded by a migration); organisations whose plan has
    ``custom_templates`` save their own."""

    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="crew_templates",
    )
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    requirement = models.TextField(
        blank=True, help_text="Example requirement the generate page is pre-filled with."
    )
    blueprint = models.JSONField(
        default=dict,
        blank=True,
        help_text="Partial crew design (process, agents, tasks, inputs) that steers the designer.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["organization_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="uniq_crew_template_slug_per_org"
            ),
            models.UniqueConstraint(
                fields=["slug"],
                condition=Q(organization__isnull=True),
                name="uniq_global_crew_template_slug",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_starter(self) -> bool:
        return self.organization_id is None


class Generation(models.Model):
    """One requirement turned (or being turned) into a CrewAI project.

    The provider key is never stored: a one-time key is held by the keys service and only
    its opaque reference lives here; stored keys are looked up again when the task runs.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        QUEUED = "queued", "Queued"
        DESIGNING = "designing", "Designing"
        RENDERING = "rendering", "Rendering"
        CHECKING = "checking", "Checking"
        PACKAGING = "packaging", "Packaging"
        DONE = "done", "Done"

    class KeySource(models.TextChoices):
        PLATFORM = "platform", "CrewBuilder AI"
        STORED = "stored", "Stored key"
        ONE_TIME = "one_time", "One-time key"

    class ChargedAs(models.TextChoices):
        QUOTA = "quota", "Plan quota"
        CREDIT = "credit", "Generation credit"
        OWN_KEY = "own_key", "Own key"
        NONE = "none", "Not charged"

    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED)

    # Not stored: set on the instance a run claims (generation/services.py ``_claim``).
    run_deadline: datetime
    stage_started: float  # time.monotonic() when the current stage began

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="generations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
    )
    template = models.ForeignKey(
        CrewTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    requirement = models.TextField()
    provider = models.CharField(max_length=20)  # openai | anthropic | fallback
    model = models.CharField(max_length=100)
    key_source = models.CharField(max_length=20, choices=KeySource.choices)
    # Which key the run resolved: one_time | user | organization | platform | fallback.
    resolved_key_source = models.CharField(max_length=20, blank=True)
    provider_key_id = models.BigIntegerField(null=True, blank=True)
    one_time_key_ref = models.CharField(max_length=100, blank=True)
    charged_as = models.CharField(max_length=20, choices=ChargedAs.choices, default=ChargedAs.NONE)
    model_class = models.CharField(max_length=20, default=LlmModel.ModelClass.STANDARD)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_cents = models.PositiveIntegerField(default=0)

    design = models.JSONField(null=True, blank=True)
    files = models.JSONField(default=list, blank=True)  # [{"path", "size"}]
    checks = models.JSONField(default=list, blank=True)  # [{"name", "passed", "message"}]
    zip_data = models.BinaryField(null=True, blank=True, editable=False)

    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    # Shown while the generation is still alive, e.g. "OpenAI is busy; retrying in 8 s".
    notice = models.CharField(max_length=300, blank=True)

    allow_questions = models.BooleanField(default=False)
    # False for generations made with an organisation's API token: "stored" then means the
    # organisation's keys only, at creation and again when the run resolves its key.
    personal_keys_allowed = models.BooleanField(default=True)
    questions = models.JSONField(default=list, blank=True)
    answers = models.JSONField(null=True, blank=True)

    # Each run claims the generation with a fresh token; a superseded run (a worker that
    # was presumed dead and redelivered) cannot write its result any more.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    runs = models.PositiveSmallIntegerField(default=0)
    retries = models.PositiveSmallIntegerField(default=0)
    # The run's last sign of life: set at the claim and each stage, and every
    # CREWBUILDER_GENERATION_HEARTBEAT_SECONDS while it waits on the provider; for a
    # scheduled retry, the time it is due. Silent for CREWBUILDER_GENERATION_LOST_AFTER_SECONDS
    # → the recovery scan (beat) queues the generation again.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the recovery scan found the generation silent and queued it again: its worker
    # was lost (or, with queue_unavailable_at, its run never reached the queue); cleared
    # by the next claim or the next sign of life of the run (it was only slow).
    worker_lost_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When its run could not be queued because the broker was down and it was kept queued
    # (answers sent during the outage, a paid /try/ generation); the recovery scan queues
    # it once the broker is back. Cleared by the next claim.
    queue_unavailable_at = models.DateTimeField(null=True, blank=True, editable=False)

    # NULL (not "") when absent, so the per-organisation unique constraint ignores it.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="gen_org_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="uniq_generation_idempotency_key_per_org",
            ),
        ]

    def __str__(self) -> str:
        return f"Generation {self.id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def awaiting_answers(self) -> bool:
        return bool(self.questions) and self.answers is None and not self.is_finished

    def last_seen_at(self):
        """The latest sign of life: a heartbeat, a stage, a requeue (whichever is newest)."""
        return max(t for t in (self.heartbeat_at, self.updated_at, self.created_at) if t)

    @property
    def queue_resumed(self) -> bool:
        """True from the recovery scan queueing again a generation whose run could not be
        queued (the broker was down) until a worker claims it: no worker was lost (shown
        as "the job queue was unavailable — continuing now")."""
        return (
            self.status == self.Status.QUEUED
            and self.queue_unavailable_at is not None
            and self.worker_lost_at is not None
        )

    @property
    def worker_lost(self) -> bool:
        """True while the generation is being recovered: the scan found its worker lost,
        or it is running and silent for longer than
        ``CREWBUILDER_GENERATION_LOST_AFTER_SECONDS`` (shown as "worker lost — retrying")."""
        if self.is_finished or self.awaiting_answers or self.queue_resumed:
            return False
        if self.worker_lost_at is not None:
            return True
        lost_after = timedelta(seconds=settings.CREWBUILDER_GENERATION_LOST_AFTER_SECONDS)
        return (
            self.status == self.Status.RUNNING and self.last_seen_at() < timezone.now() - lost_after
        )
