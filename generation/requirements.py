"""The one rule for a requirement's length, used by the generate page, the API and the
``/try/`` flow (the limits are settings: ``CREWBUILDER_REQUIREMENT_MIN_CHARS`` and
``…_MAX_CHARS``)."""

from __future__ import annotations

from django.conf import settings


def requirement_limits() -> tuple[int, int]:
    """(fewest, most) characters a requirement may have, after stripping."""
    return settings.CREWBUILDER_REQUIREMENT_MIN_CHARS, settings.CREWBUILDER_REQUIREMENT_MAX_CHARS


def requirement_problems(requirement: str) -> list[str]:
    """What is wrong with a (stripped) requirement, as field messages; [] when it fits."""
    low, high = requirement_limits()
    if not requirement:
        return ["Describe what the crew should do."]
    if len(requirement) < low:
        return [
            f"Describe the automation in at least {low} characters (you wrote {len(requirement)})."
        ]
    if len(requirement) > high:
        return [
            f"Keep the requirement under {high} characters "
            f"(you wrote {len(requirement)}); summarise or split it."
        ]
    return []
