"""Closing the client connection after a response, from inside the application.

When the API refuses a body it did not read (413 before anything reads it), the unread
bytes still sit on the keep-alive connection. gunicorn drains a little of such a body and
otherwise drops the connection after announcing ``Connection: keep-alive`` — the client's
next request on it then fails. A view or middleware that knows the connection cannot be
reused sets ``environ[CLOSE_CONNECTION]``; ``close_when_asked`` (the WSGI wrapper in
``crewbuilder/wsgi.py``) then asks gunicorn to answer ``Connection: close`` and close
gracefully. (Hop-by-hop headers cannot be set from Django itself: WSGI forbids them and
runserver asserts on them.)
"""

from __future__ import annotations

CLOSE_CONNECTION = "crewbuilder.close_connection"


def close_when_asked(app):
    def application(environ, start_response):
        def start(status, headers, exc_info=None):
            if environ.get(CLOSE_CONNECTION):
                # gunicorn's start_response is a method of its Response, whose public
                # force_close() makes it send "Connection: close" and end the connection.
                server_response = getattr(start_response, "__self__", None)
                force_close = getattr(server_response, "force_close", None)
                if callable(force_close):
                    force_close()
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return application
