from __future__ import annotations

from django.http import HttpRequest

from crewbuilder import __version__


def release(request: HttpRequest) -> dict:
    """The running version, for the operators' footer (staff only; customers never see it)."""
    user = getattr(request, "user", None)
    return {"crewbuilder_version": __version__ if user is not None and user.is_staff else ""}
