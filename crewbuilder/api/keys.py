"""``/api/v1/keys/``: the organisation's provider keys, write-only.

Keys go in through ``provider_key_store`` (the same service as ``/settings/api-keys/``) and
come out only as ``provider_key_public`` (id, provider, label, masked, fingerprint,
status, last_used_at, created_at); the key itself is never returned.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Cap
from crewbuilder.api.fields import StrictBooleanField, StrictCharField, StrictChoiceField
from crewbuilder.api.views import TokenAPIView
from crewbuilder.providers import PROVIDERS
from keys import selectors, services
from keys.models import ProviderKey

ORGANIZATION_SCOPE = ProviderKey.Scope.ORGANIZATION


class KeyCreateSerializer(serializers.Serializer):
    provider = StrictChoiceField(choices=PROVIDERS)
    api_key = StrictCharField(write_only=True, max_length=512, style={"input_type": "password"})
    label = StrictCharField(required=False, allow_blank=True, max_length=80, default="")
    replace = StrictBooleanField(
        required=False,
        default=False,
        help_text="The organisation already has a key for this provider: true replaces it "
        "(audited as provider_key.replaced); without it the request is a 409 (key_exists) "
        "and the stored key is kept.",
    )


class KeySerializer(serializers.Serializer):
    """A stored key as the API shows it (documentation: ``provider_key_public`` builds it)."""

    id = serializers.IntegerField()
    provider = serializers.CharField()
    label = serializers.CharField()
    masked = serializers.CharField(help_text='e.g. "sk-…a1b2"')
    fingerprint = serializers.CharField()
    status = serializers.CharField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def _keys(request):
    # An API token acts for the organisation: only organisation keys, never the creator's
    # personal keys.
    return selectors.provider_keys_visible_to(
        organization=request.auth.organization, user=request.user
    ).filter(scope=ORGANIZATION_SCOPE)


def _key_for(request, pk: int):
    key = _keys(request).filter(pk=pk).first()
    if key is None:
        raise Http404
    return key


class KeyListCreateView(TokenAPIView):
    required_capabilities = {"POST": Cap.MANAGE_ORG_KEYS}

    @extend_schema(operation_id="keys_list", responses=KeySerializer(many=True), tags=["keys"])
    def get(self, request):
        return Response([selectors.provider_key_public(key) for key in _keys(request)])

    @extend_schema(
        operation_id="keys_create",
        request=KeyCreateSerializer,
        responses={201: KeySerializer, 200: KeySerializer},
        description="Store the organisation's key for a provider (201). If one is already "
        "stored, it is replaced only with `replace: true` (200, audited); otherwise 409 "
        "`key_exists` and nothing changes.",
        tags=["keys"],
    )
    def post(self, request):
        serializer = KeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # an existing key without replace: true raises ProviderKeyExists (409 key_exists)
        key = services.provider_key_store(
            organization=request.auth.organization,
            actor=request.user,
            scope=ORGANIZATION_SCOPE,
            **serializer.validated_data,
        )
        # key_version starts at 1 on a new row and goes up by one per replacement
        status = 200 if key.key_version > 1 else 201
        return Response(selectors.provider_key_public(key), status=status)


class KeyDetailView(TokenAPIView):
    required_capabilities = {"DELETE": Cap.MANAGE_ORG_KEYS}

    @extend_schema(operation_id="keys_destroy", responses={204: None}, tags=["keys"])
    def delete(self, request, pk: int):
        services.provider_key_delete(key=_key_for(request, pk), actor=request.user)
        return Response(status=204)


class KeyTestView(TokenAPIView):
    required_capabilities = {"POST": Cap.MANAGE_ORG_KEYS}

    @extend_schema(
        operation_id="keys_test", request=None, responses={200: KeySerializer}, tags=["keys"]
    )
    def post(self, request, pk: int):
        key = _key_for(request, pk)
        services.provider_key_test(key=key, actor=request.user)
        key.refresh_from_db()
        return Response(selectors.provider_key_public(key))
