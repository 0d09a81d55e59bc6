"""Key-vault tables. None of them holds a provider key in plaintext, and no model has a
property or ``__str__`` that reveals one: encryption and decryption live in
``keys/services.py`` only."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from crewbuilder.providers import Provider


class OrganizationDataKey(models.Model):
    """The organisation's data key (AES-256), wrapped by a master key (envelope encryption).

    Rotation re-wraps this one row under the newest master key; the provider keys sealed
    with the data key are untouched, so nobody re-enters a key. Deleting the row
    crypto-shreds every key of the organisation.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="data_key"
    )
    wrapped_key = models.BinaryField(editable=False)
    # "<ID>" of a CREWBUILDER_ENCRYPTION_KEYS entry, or "vault:<transit key>:v<version>".
    master_key_id = models.CharField(max_length=80, db_index=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Data key of organisation #{self.organization_id} (wrapped by {self.master_key_id})"


class ProviderKey(models.Model):
    Provider = Provider

    class Scope(models.TextChoices):
        ORGANIZATION = "organization", "Organisation"
        USER = "user", "Personal"

    class Status(models.TextChoices):
        UNTESTED = "untested", "Not tested"
        CONNECTED = "connected", "Connected"
        INVALID = "invalid", "Invalid"
        UNREACHABLE = "unreachable", "Unreachable"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="provider_keys"
    )
    # Personal keys belong to one user inside one organisation; organisation keys have none.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="provider_keys",
    )
    scope = models.CharField(max_length=16, choices=Scope.choices)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    label = models.CharField(max_length=80, blank=True)
    # 01 || nonce || AES-256-GCM(data key, key, aad=row binding). See keys/services.py.
    ciphertext = models.BinaryField(editable=False)
    key_version = models.PositiveIntegerField(default=1, editable=False)
    masked = models.CharField(max_length=32, editable=False)
    fingerprint = models.CharField(max_length=16, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNTESTED)
    status_reason = models.CharField(max_length=200, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider"],
                condition=Q(scope="organization"),
                name="provider_key_one_org_key_per_provider",
            ),
            models.UniqueConstraint(
                fields=["organization", "owner", "provider"],
                condition=Q(scope="user"),
                name="provider_key_one_user_key_per_provider",
            ),
            models.CheckConstraint(
                condition=(Q(scope="user", owner__isnull=False))
                | Q(scope="organization", owner__isnull=True),
                name="provider_key_owner_matches_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} key {self.masked}"


class TransportKey(models.Model):
    """The server's RSA-OAEP key pair for encrypting keys in the browser before they are
    sent. The private key is stored wrapped by a master key (like a data key) so it
    survives restarts and is shared by every web process; the public half is served as a
    JWK."""

    wrapped_key = models.BinaryField(editable=False)  # the private key (PKCS#8 DER), wrapped
    master_key_id = models.CharField(max_length=80, db_index=True, editable=False)
    public_jwk = models.JSONField(editable=False)
    kid = models.CharField(max_length=32, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Transport key {self.kid}"
