"""The API's JSON parser: DRF's, plus hostile-input handling.

A deeply nested body (``[`` × 1100) makes the stdlib decoder raise ``RecursionError``,
which DRF does not catch: it became a 500 with a traceback mailed to the admins. Here it
is a 400 ``parse_error`` like any other malformed body.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
