from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

PAGE_SIZE_MESSAGE = "Enter a whole number of at least 1 (at most 100 are returned)."


class NewestFirstPagination(CursorPagination):
    """Opaque cursors over ``-created_at``: stable under inserts, no COUNT(*) per page.

    Strict like the rest of the API: ``page_size`` must be a whole number ≥ 1 (larger
    than ``max_page_size`` is capped), and a tampered ``cursor`` is a 400 — both
    documented in the schema."""

    ordering = ("-created_at", "-pk")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_MESSAGE]})
        return min(int(raw), self.max_page_size)

    def decode_cursor(self, request):
        # A tampered cursor is bad input (400 with the field), not a missing page.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; at most "
                    f"{self.max_page_size} are returned). Not a whole number ≥ 1: 400."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "The opaque `next`/`previous` value of a previous page; any other "
                    "value is a 400 (`fields.cursor`)."
                )
        return parameters
