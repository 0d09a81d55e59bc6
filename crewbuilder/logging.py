"""Structured logging with secret redaction on every handler."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from crewbuilder.redaction import redact


class RedactSecretsFilter(logging.Filter):
    """Rewrite a record so no provider key or CrewBuilder token survives in it.

    The message is formatted first (args may carry the secret), then redacted, and the
    args are dropped so no later formatter can re-insert them. Exception text is
    formatted and redacted too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for attr, value in list(vars(record).items()):
            if attr not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, attr, redact(value))
        return True


_STANDARD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
}
# Extras Django attaches that are objects, not data (the request, the socket): never dumped.
_SKIPPED_EXTRAS = {"request", "server_time"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for attr, value in vars(record).items():
            if (
                attr not in _STANDARD_ATTRS
                and attr not in _SKIPPED_EXTRAS
                and not attr.startswith("_")
            ):
                payload[attr] = (
                    value if isinstance(value, int | float | bool | None) else redact(str(value))
                )
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            payload["exc"] = redact(record.exc_text)
        return json.dumps(payload, default=str)


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports (debug page, admin emails) with provider keys masked."""

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        return redact(value) if isinstance(value, str) else value

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, redact(str(value)))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        cleansed = params.copy()
        for name in cleansed:
            cleansed[name] = redact(str(cleansed[name]))
        return cleansed
