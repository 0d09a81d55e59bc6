"""Outgoing webhooks (glue floor): organisations register HTTPS endpoints; generation and
billing events, announced by those apps' signals, are signed and delivered from Celery.
See docs/webhooks.md."""
