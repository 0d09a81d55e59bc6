"""``/api/v1/webhooks/``: endpoints and their delivery log (docs/webhooks.md "API").

Owners and admins only (their tokens: ``Cap.MANAGE_API_TOKENS`` for every method, reads
included, since the log shows the organisation's endpoints and their answers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Cap
from crewbuilder.api.pagination import NewestFirstPagination
from crewbuilder.api.views import TokenAPIView
from crewbuilder.webhooks import selectors, services
from crewbuilder.webhooks.models import EventType, WebhookDelivery

T = TypeVar("T")
ALL = {method: Cap.MANAGE_API_TOKENS for method in ("GET", "POST", "PATCH", "DELETE")}


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="https://… (http:// only where allowed)")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.values), min_length=1, max_length=10
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.values),
        min_length=1,
        max_length=10,
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                "Send at least one of url, events, description, enabled."
            )
        return attrs


class RotateSerializer(serializers.Serializer):
    overlap_hours = serializers.IntegerField(
        min_value=0, max_value=services.MAX_OVERLAP_HOURS, required=False, default=24
    )


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    secret_rotated_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…), shown only here.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField(source="event.public_id")
    event_type = serializers.CharField(source="event.type")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def _endpoint_for(request, pk: int):
    endpoint = (
        selectors.webhook_endpoints_of(organization=request.auth.organization).filter(pk=pk).first()
    )
    if endpoint is None:
        raise Http404
    return endpoint


def _endpoint_change(
    request, pk: int, serializer_class: type[serializers.Serializer], service: Callable[..., T]
) -> T:
    """``service`` on the caller's endpoint ``pk`` with the request's validated body: 404
    for an endpoint not theirs (before the body is read), 400 for an invalid body."""
    endpoint = _endpoint_for(request, pk)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return service(endpoint=endpoint, actor=request.user, **serializer.validated_data)


def _with_secret(result) -> dict:
    return {**EndpointSerializer(result.endpoint).data, "secret": result.secret}


class EndpointListCreateView(TokenAPIView):
    required_capabilities = ALL

    @extend_schema(
        operation_id="webhooks_list", responses=EndpointSerializer(many=True), tags=["webhooks"]
    )
    def get(self, request):
        endpoints = selectors.webhook_endpoints_of(organization=request.auth.organization)
        return Response(EndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=EndpointCreateSerializer,
        responses={201: EndpointWithSecretSerializer},
        tags=["webhooks"],
    )
    def post(self, request):
        serializer = EndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.webhook_endpoint_create(
            organization=request.auth.organization, actor=request.user, **serializer.validated_data
        )
        return Response(_with_secret(result), status=201, headers={"Cache-Control": "no-store"})


class EndpointDetailView(TokenAPIView):
    required_capabilities = ALL

    @extend_schema(
        operation_id="webhooks_retrieve", responses=EndpointSerializer, tags=["webhooks"]
    )
    def get(self, request, pk: int):
        return Response(EndpointSerializer(_endpoint_for(request, pk)).data)

    @extend_schema(
        operation_id="webhooks_update",
        request=EndpointUpdateSerializer,
        responses=EndpointSerializer,
        tags=["webhooks"],
    )
    def patch(self, request, pk: int):
        endpoint = _endpoint_change(
            request, pk, EndpointUpdateSerializer, services.webhook_endpoint_update
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: None}, tags=["webhooks"])
    def delete(self, request, pk: int):
        services.webhook_endpoint_delete(endpoint=_endpoint_for(request, pk), actor=request.user)
        return Response(status=204)


class EndpointRotateView(TokenAPIView):
    required_capabilities = ALL

    @extend_schema(
        operation_id="webhooks_rotate_secret",
        request=RotateSerializer,
        responses=EndpointWithSecretSerializer,
        tags=["webhooks"],
    )
    def post(self, request, pk: int):
        result = _endpoint_change(
            request, pk, RotateSerializer, services.webhook_endpoint_rotate_secret
        )
        return Response(_with_secret(result), headers={"Cache-Control": "no-store"})


class DeliveryPagination(NewestFirstPagination):
    ordering = ("-created_at", "-pk")


class DeliveryListView(TokenAPIView):
    required_capabilities = ALL

    @extend_schema(
        operation_id="webhooks_deliveries",
        responses=DeliverySerializer(many=True),
        tags=["webhooks"],
    )
    def get(self, request, pk: int):
        endpoint = _endpoint_for(request, pk)
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(
            selectors.deliveries_of(endpoint=endpoint), request, view=self
        )
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryResendView(TokenAPIView):
    required_capabilities = ALL

    @extend_schema(
        operation_id="webhooks_delivery_resend",
        request=None,
        responses={202: DeliverySerializer},
        tags=["webhooks"],
    )
    def post(self, request, pk: int, delivery_pk: int):
        endpoint = _endpoint_for(request, pk)
        delivery = (
            WebhookDelivery.objects.select_related("event", "endpoint__organization")
            .filter(endpoint=endpoint, pk=delivery_pk)
            .first()
        )
        if delivery is None:
            raise Http404
        again = services.webhook_delivery_resend(delivery=delivery, actor=request.user)
        again.refresh_from_db()
        return Response(DeliverySerializer(again).data, status=202)
