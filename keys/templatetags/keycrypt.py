"""``{% load keycrypt %}{% keycrypt_assets %}``: the server's public key (JWK) and
keycrypt.js, for any page with an ``<input data-keycrypt>`` (settings, generate form)."""

from __future__ import annotations

from django import template

from keys.transport import transport_public_jwk

register = template.Library()


@register.inclusion_tag("keys/_keycrypt_assets.html")
def keycrypt_assets() -> dict:
    return {"jwk": transport_public_jwk()}
