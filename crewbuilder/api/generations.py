"""``/api/v1/generations/``: create (idempotent), list, detail and download over the API.

Thin: a serializer parses the body, ``generation_create`` (the same service as the
``/generate/`` page) does the work, ``generation_public`` shapes every response.

Idempotency (``Idempotency-Key`` header): the key and a fingerprint of the request are
stored on the generation, unique per organisation, by ``generation_create``. Same key +
same body → the same generation again (202); same key + another body → 409; two
concurrent requests with one key race on the unique constraint and the loser answers
with the winner's row. The fingerprint is SHA-256 over canonical JSON of the validated
body in which a one-time ``api_key`` is replaced by an HMAC keyed with SECRET_KEY: a
retry with a different key is a different request (409, not a silent replay of another
key's generation), and the stored fingerprint cannot be used to test guesses of the key
without the server secret.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.http import HttpResponse
from django.utils.crypto import salted_hmac
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from accounts.permissions import Cap
from accounts.selectors import get_for_org_or_404
from billing.tenancy import Tenant, organization_billing_account
from crewbuilder.api.exceptions import Conflict
from crewbuilder.api.fields import StrictCharField, StrictChoiceField, StrictSlugField
from crewbuilder.api.pagination import NewestFirstPagination
from crewbuilder.api.views import TokenAPIView
from crewbuilder.providers import PROVIDERS
from generation import selectors, services
from generation.models import Generation
from generation.requirements import requirement_limits

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class GenerationCreateSerializer(serializers.Serializer):
    # Strict types: a number is not a string (DRF's CharField would accept 5 as "5").
    requirement = StrictCharField(
        min_length=requirement_limits()[0],
        max_length=requirement_limits()[1],
        help_text="The automation you need, in plain language.",
    )
    key_source = StrictChoiceField(choices=Generation.KeySource.values)
    provider = StrictChoiceField(choices=PROVIDERS)
    model = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=100, default=None
    )
    api_key = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        write_only=True,
        max_length=512,
        default=None,
        help_text="Your provider key, for key_source one_time only. Used once, never stored.",
        style={"input_type": "password"},
    )
    template = StrictSlugField(
        required=False, allow_null=True, allow_blank=True, max_length=100, default=None
    )

    def validate(self, attrs: dict) -> dict:
        # Blank optional fields mean "not given"; the service owns every other rule.
        for name in ("model", "api_key", "template"):
            attrs[name] = attrs.get(name) or None
        return attrs


class GenerationUsageSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_cents = serializers.IntegerField()


class GenerationFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()


class GenerationCheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    message = serializers.CharField()


class GenerationErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class GenerationSerializer(serializers.Serializer):
    """The contract's generation (documentation only: ``generation_public`` builds it)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Generation.Status.values)
    stage = serializers.ChoiceField(choices=Generation.Stage.values)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    requirement = serializers.CharField()
    provider = serializers.CharField()
    model = serializers.CharField()
    key_source = serializers.ChoiceField(choices=Generation.KeySource.values)
    charged_as = serializers.ChoiceField(choices=Generation.ChargedAs.values)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    usage = GenerationUsageSerializer()
    design = serializers.JSONField(allow_null=True)
    files = GenerationFileSerializer(many=True)
    checks = GenerationCheckSerializer(many=True)
    error = GenerationErrorSerializer(allow_null=True)
    worker_lost = serializers.BooleanField(
        help_text=(
            "True while the generation is being recovered: the worker running it stopped "
            "sending its heartbeat (killed, host lost) and the generation is queued again "
            'automatically ("worker lost — retrying"). It finishes, and is charged, once; '
            "no action is needed. False for a generation that stayed queued because the "
            "job queue was unavailable and is now queued again: no worker was lost."
        )
    )


def request_fingerprint(data: dict) -> str:
    """SHA-256 of the canonical JSON of a validated create body (api_key HMAC'd first)."""
    names: list[str] = list(GenerationCreateSerializer().fields.keys())
    body: dict[str, Any] = {name: data.get(name) for name in names}
    if body.get("api_key"):
        body["api_key"] = (
            "hmac:"
            + salted_hmac(
                "crewbuilder.api.idempotency", body["api_key"], algorithm="sha256"
            ).hexdigest()
        )
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_key(request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise exceptions.ValidationError(
            {IDEMPOTENCY_HEADER: ["Use 1 to 255 printable ASCII characters without spaces."]}
        )
    return key


def _generation_for(request, pk, *, with_zip: bool = False) -> Generation:
    # Only the download needs the zip bytes; the detail leaves them in the database.
    queryset = Generation.objects.all() if with_zip else Generation.objects.defer("zip_data")
    return get_for_org_or_404(queryset, request, pk=pk)


class GenerationListCreateView(TokenAPIView):
    required_capabilities = {"POST": Cap.GENERATE}
    pagination_class = NewestFirstPagination

    @extend_schema(
        operation_id="generations_list",
        responses=GenerationSerializer(many=True),
        tags=["generations"],
    )
    def get(self, request):
        paginator = self.pagination_class()
        queryset = selectors.generations_for(organization=request.auth.organization)
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([selectors.generation_public(g) for g in page])

    @extend_schema(
        operation_id="generations_create",
        request=GenerationCreateSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Same key + same body returns the same generation; "
                "same key + another body is a 409.",
            )
        ],
        responses={202: GenerationSerializer},
        tags=["generations"],
    )
    def post(self, request):
        serializer = GenerationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = _idempotency_key(request)
        token = request.auth
        # The token lookup already read the creator's role and the billing account with
        # its plan: the tenant hands them down rather than have the service read them again.
        tenant = Tenant(
            organization=token.organization,
            user=request.user,
            role=token.creator_role,
            account=organization_billing_account(token.organization),
            personal_keys=False,  # a token acts for the organisation, not its creator
        )
        order = services.GenerationOrder(
            requirement=data["requirement"],
            key_source=data["key_source"],
            provider=data["provider"],
            model=data["model"],
            api_key=data["api_key"],
            template=data["template"],
            idempotency_key=key,
            request_fingerprint=request_fingerprint(data) if key else "",
        )
        # The service answers a replay (same key, same fingerprint) with the original
        # generation, handles the concurrent-insert race, and raises IdempotencyConflict
        # (409) for the same key with another body.
        generation = services.generation_create_for(tenant=tenant, order=order)
        return Response(selectors.generation_public(generation), status=202)


class GenerationDetailView(TokenAPIView):
    @extend_schema(
        operation_id="generations_retrieve", responses=GenerationSerializer, tags=["generations"]
    )
    def get(self, request, pk):
        return Response(selectors.generation_public(_generation_for(request, pk)))


class GenerationDownloadView(TokenAPIView):
    @extend_schema(
        operation_id="generations_download",
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The CrewAI project."
            )
        },
        tags=["generations"],
    )
    def get(self, request, pk):
        generation = _generation_for(request, pk, with_zip=True)
        try:
            data = selectors.generation_zip(generation)
        except selectors.ZipNotReady as exc:
            raise Conflict(
                f"The generation is {generation.status}; its project can be downloaded once "
                "it has succeeded.",
                code="not_ready",
            ) from exc
        response = HttpResponse(data, content_type="application/zip")
        filename = selectors.generation_zip_filename(generation)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
