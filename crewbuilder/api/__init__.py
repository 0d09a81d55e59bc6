"""The public HTTP API (``/api/v1/``): token auth, errors, throttling, pagination, schema.

Per-app views live next to their domain (``generation/api.py``, ``keys/api.py``,
``billing/api.py``) and call the same services as the web pages.
"""
