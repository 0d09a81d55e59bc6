from __future__ import annotations

import pytest

from accounts import services


@pytest.fixture(autouse=True)
def _unlimited_seats(monkeypatch):
    """Team tests are about roles and invitations, not plans: seats are unlimited here
    unless a test sets its own limit (the plan's real limit is tested in tests/billing)."""
    monkeypatch.setattr(services, "organization_seat_limit", lambda *, organization: None)
