"""The public HTTP API (``/api/v1/``) and API tokens: the top floor, above every app.

Token auth, errors, throttling, pagination and schema; the endpoints per domain
(``generations.py``, ``keys.py``, ``usage.py``; webhooks in ``crewbuilder/webhooks``) call
the same services as the web pages. API tokens (``tokens.py``, the ``ApiToken`` model
stays in ``accounts``) and their settings page (``token_views.py``) live here too.
"""
