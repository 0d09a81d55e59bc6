"""OpenAPI post-processing: document the error envelope on every operation."""

from __future__ import annotations

from crewbuilder.api.exceptions import DEFAULT_MESSAGES

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}
_EXTRA = {
    "generations_list": (400,),  # a bad page_size or cursor
    "generations_create": (402, 409),
    "generations_download": (409,),
    "keys_create": (409,),
    "keys_test": (400,),
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = {401, 403, 429, 503}  # 503: a dependency is down
            if "{" in path:
                codes.add(404)
            if method in ("post", "put", "patch"):
                codes |= {400, 413}
            codes |= set(_EXTRA.get(operation.get("operationId"), ()))
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(
                    str(code), {"description": DEFAULT_MESSAGES.get(code, "Error."), "content": ref}
                )
    return result
