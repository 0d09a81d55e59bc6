"""Extension points other apps fill in, so accounts does not import their internals.

``member_left`` runs after a membership ends (API tokens created by that user stop working,
for example). Apps register callables at ready() time.
"""

from __future__ import annotations

from collections.abc import Callable

_member_left: list[Callable] = []


def on_member_left(fn: Callable) -> Callable:
    _member_left.append(fn)
    return fn


def member_left(*, organization, user) -> None:
    for fn in _member_left:
        fn(organization=organization, user=user)


_organization_deleting: list[Callable] = []


def on_organization_deleting(fn: Callable) -> Callable:
    """Register ``fn(*, organization, actor)``, run inside the deletion transaction just
    before the organisation row (and everything cascading from it) is deleted."""
    _organization_deleting.append(fn)
    return fn


def organization_deleting(*, organization, actor) -> None:
    for fn in _organization_deleting:
        fn(organization=organization, actor=actor)
