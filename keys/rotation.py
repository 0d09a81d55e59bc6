"""Master-key rotation: re-wrap organisation data keys (and the transport key) under the
newest master key. Provider-key ciphertexts never change, so nobody re-enters a key.

Called by ``manage.py keys_rotate`` and the monthly beat job (``keys.tasks``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.services import audit_record
from keys.backends import active_backend, backend_for, is_local_key_id
from keys.crypto import DecryptionFailed, master_key_ring
from keys.models import OrganizationDataKey, TransportKey
from keys.services import _data_key_context
from keys.transport import transport_context

logger = logging.getLogger("crewbuilder.keys")


@dataclass
class RotationReport:
    rewrapped: int = 0
    failed: list[int] = field(default_factory=list)
    target: str = ""


def _rewrap_row(row, *, target_backend, context: bytes) -> str:
    data_key = backend_for(row.master_key_id).unwrap(
        wrapped=bytes(row.wrapped_key), key_id=row.master_key_id, context=context
    )
    wrapped, key_id = target_backend.wrap(data_key=data_key, context=context)
    old = row.master_key_id
    row.wrapped_key, row.master_key_id, row.rotated_at = wrapped, key_id, timezone.now()
    return old


def data_keys_rotate(*, batch_size: int = 100, max_batches: int | None = None) -> RotationReport:
    """Re-wrap every data key (and the transport key) under the newest master key.

    Resumable and idempotent: each batch commits on its own, rows already on the newest
    key are never touched, rows locked by a concurrent run are skipped
    (``skip_locked``), so re-running after an interruption finishes the job. Plaintext
    data keys exist only in this process's memory while being re-wrapped.
    """
    target_backend = active_backend()
    report = RotationReport(target=target_backend.current_key_id())
    for model, context_of in (
        (OrganizationDataKey, lambda row: _data_key_context(row.organization_id)),
        (TransportKey, lambda row: transport_context(row.kid)),
    ):
        last_pk, batches = 0, 0
        while max_batches is None or batches < max_batches:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update(skip_locked=True)
                    .exclude(master_key_id=report.target)
                    .filter(pk__gt=last_pk)
                    .order_by("pk")[:batch_size]
                )
                if not rows:
                    break
                for row in rows:
                    last_pk = row.pk
                    try:
                        old = _rewrap_row(
                            row, target_backend=target_backend, context=context_of(row)
                        )
                    except DecryptionFailed:
                        logger.error(
                            "%s %s could not be unwrapped; left as is", model.__name__, row.pk
                        )
                        report.failed.append(row.pk)
                        continue
                    row.save(update_fields=["wrapped_key", "master_key_id", "rotated_at"])
                    report.rewrapped += 1
                    if isinstance(row, OrganizationDataKey):
                        audit_record(
                            organization=row.organization,
                            actor=None,
                            action="provider_keys.rotated",
                            metadata={"from": old, "to": row.master_key_id},
                        )
            batches += 1
    return report


def data_keys_rotation_status() -> dict:
    """Rows per wrapping key id: what ``keys_rotate --check`` prints."""
    target = active_backend().current_key_id()
    counts: dict[str, int] = {}
    for model in (OrganizationDataKey, TransportKey):
        for row in model.objects.values("master_key_id").annotate(n=Count("pk")):
            counts[row["master_key_id"]] = counts.get(row["master_key_id"], 0) + row["n"]
    configured = set(master_key_ring().ids)
    return {
        "target": target,
        "counts": counts,
        "outdated": sum(n for key_id, n in counts.items() if key_id != target),
        # Local master keys missing from the ring; Vault/KMS keys are checked by unwrapping.
        "unknown": sorted(
            key_id for key_id in counts if key_id not in configured and is_local_key_id(key_id)
        ),
    }
