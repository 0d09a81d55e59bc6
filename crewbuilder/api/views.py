"""The base class of every token-authenticated API view."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from crewbuilder.api.authentication import ApiTokenAuthentication
from crewbuilder.api.parsers import SafeJSONParser
from crewbuilder.api.permissions import ApiTokenPermission
from crewbuilder.api.throttles import TokenAndOrganizationThrottle


class TokenAPIView(APIView):
    """Bearer ``cb_…`` auth, plan/scope/role permission, per-token and per-organisation
    throttles, JSON in and out. Subclasses set ``required_capabilities`` for writes."""

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [ApiTokenPermission]
    throttle_classes = [TokenAndOrganizationThrottle]
    parser_classes = [SafeJSONParser]
    renderer_classes = [JSONRenderer]
    required_capabilities: dict[str, str] = {}
