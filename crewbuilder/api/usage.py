"""``GET /api/v1/usage/``: the organisation's plan usage, from the same selector as the
billing page."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from billing import selectors
from crewbuilder.api.views import TokenAPIView


class UsageSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="Plan slug, e.g. professional.")
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    used = serializers.IntegerField(help_text="CrewBuilder-AI generations used this period.")
    limit = serializers.IntegerField(allow_null=True, help_text="null = unlimited.")
    credits = serializers.IntegerField(help_text="Pay-as-you-go generation credits left.")


class UsageView(TokenAPIView):
    @extend_schema(operation_id="usage_retrieve", responses=UsageSerializer, tags=["usage"])
    def get(self, request):
        return Response(UsageSerializer(selectors.usage_for(request.auth.organization)).data)
