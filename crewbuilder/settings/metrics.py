"""Metrics (/metrics, Prometheus): off unless a token is set. PROMETHEUS_MULTIPROC_DIR
(read by prometheus-client itself too) makes every gunicorn and Celery process count into
shared files that one scrape sums."""

from __future__ import annotations

from crewbuilder.settings.env import env

CREWBUILDER_METRICS_TOKEN = env("CREWBUILDER_METRICS_TOKEN", default="")
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
