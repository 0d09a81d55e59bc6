from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Email is the login; everything a user owns hangs off an Organization."""

    # Email is the login: no username field, and a manager that creates users by email
    # (django-stubs types AbstractUser with a username and auth's own UserManager).
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


class Organization(models.Model):
    """A tenant. Every other row in the product belongs to one."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    is_personal = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BILLING_MANAGER = "billing_manager", "Billing manager"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_unique_org_user"
            ),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # Only a hash of the accept token is stored; the token lives in the emailed link alone.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(status="pending"),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.organization}"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class AuditEvent(models.Model):
    """Append-only record of who changed what. Metadata never holds secrets."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="audit_org_created")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or 'system'}"


class ApiToken(models.Model):
    """An organisation's API token (``cb_`` + random). Only a lookup prefix and a hash are
    stored; the token is shown once at creation."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        READ_WRITE = "read_write", "Read & write"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_tokens"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="api_tokens"
    )
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ_WRITE)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (cb_{self.prefix}…)"


class OrganizationBranding(models.Model):
    """White-label settings (Enterprise entitlement)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="branding"
    )
    brand_name = models.CharField(max_length=80, blank=True)
    # The logo lives in the row (a re-encoded PNG of a few KB), so every web process and
    # every redeploy serves the same bytes; nothing depends on a container's disk.
    logo_png = models.BinaryField(null=True, blank=True, editable=False)
    logo_sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    # Up to 0.1.0 the logo was a file under MEDIA_ROOT. Kept read-only for one release
    # (expand/contract, docs/migrations.md): 0.1.0 processes still read it during a rolling
    # deploy; accounts 0004 and ``manage.py branding_logos_import`` copy it into the row.
    logo = models.FileField(upload_to="branding/", blank=True)
    primary_color = models.CharField(max_length=7, blank=True)
    accent_color = models.CharField(max_length=7, blank=True)
    # The domain served for this organisation: set only once its DNS TXT proof checked out
    # (accounts/domains.py). Unique, because one host routes to one brand.
    custom_domain = models.CharField(max_length=253, blank=True, unique=True, null=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # A domain the organisation asked for but has not proved yet. Not unique: a claim
    # reserves nothing, so nobody can lock a domain's real owner out by claiming it first.
    domain_claim = models.CharField(max_length=253, blank=True, default="", db_default="")
    # Per-organisation secret for the TXT proof (_crewbuilder-challenge.<domain>).
    domain_token = models.CharField(max_length=64, blank=True, default="", db_default="")
    domain_verified_at = models.DateTimeField(null=True, blank=True)
    # Last time the TXT proof was seen (daily re-check; a domain whose proof is gone for
    # longer than the grace period stops being served).
    domain_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Branding for {self.organization}"

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_sha256) or bool(self.logo)

    @property
    def logo_version(self) -> str:
        """Cache-busting token for the logo URL (empty for a not yet imported file)."""
        return self.logo_sha256[:16]
