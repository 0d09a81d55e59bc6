"""``Authorization: Bearer cb_…`` authentication for the API.

A valid token authenticates as its creator (``request.user``) with the token as
``request.auth``; the organisation comes from the token, never from a session, and is set
on the underlying request so the shared ownership helpers (``get_for_org_or_404``) work
unchanged. Tokens are accepted only in the header, never in a URL.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from crewbuilder.api.tokens import api_token_authenticate

KEYWORD = b"bearer"


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The API token is invalid, expired or revoked."
    default_code = "invalid_token"


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != KEYWORD:
            raise InvalidToken("Use Authorization: Bearer cb_… with an API token.")
        if len(header) != 2:
            raise InvalidToken("Malformed Authorization header: expected Bearer cb_….")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidToken() from exc
        token = api_token_authenticate(raw=raw)
        if token is None:
            raise InvalidToken()
        django_request = request._request
        django_request.organization = token.organization
        django_request.membership = None
        django_request.api_token = token
        return token.created_by, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "crewbuilder.api.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cb_… (an organisation API token from /settings/api-tokens/)",
        }
