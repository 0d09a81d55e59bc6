"""Test-only URLs: views that raise what services raise, to see what the error layer
makes of it (pages and API)."""

from __future__ import annotations

from django.db import OperationalError
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from billing.services import DailyCapReached, PaymentRequired
from billing.stripe_gateway import GatewayError
from crewbuilder.errors import ApplicationError


class Teapot(ApplicationError):
    """Short and stout."""

    status = 418
    code = "teapot"


RAISES = {
    "teapot": lambda: Teapot(),
    "payment": lambda: PaymentRequired("No generations left."),
    "cap": lambda: DailyCapReached("Daily cap reached."),
    "stripe": lambda: GatewayError("Stripe: unreachable", retryable=True),
    "forbidden": lambda: ApplicationError("Owners only.", status=403, code="role"),
    "database": lambda: OperationalError("connection refused"),
}


def page(request, what):
    raise RAISES[what]()


class Api(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request, what):
        raise RAISES[what]()


urlpatterns = [
    path("page/<str:what>/", page),
    path("api/v1/raise/<str:what>/", Api.as_view()),
    path("", include("crewbuilder.urls")),
]
