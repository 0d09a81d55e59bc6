"""The base class of every token-authenticated API view."""

from __future__ import annotations

import importlib

from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from crewbuilder.api.authentication import ApiTokenAuthentication
from crewbuilder.api.permissions import ApiTokenPermission
from crewbuilder.api.throttles import OrganizationRateThrottle, TokenRateThrottle


class TokenAPIView(APIView):
    """Bearer ``cb_…`` auth, plan/scope/role permission, per-token and per-organisation
    throttles, JSON in and out. Subclasses set ``required_capabilities`` for writes."""

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [ApiTokenPermission]
    throttle_classes = [TokenRateThrottle, OrganizationRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    required_capabilities: dict[str, str] = {}


class LazyModule:
    """A module imported on first attribute access, so an API module can reference a
    sibling app's services without importing it at URL-loading time."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)
