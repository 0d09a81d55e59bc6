"""LLM providers: the platform keys behind "CrewBuilder AI" and their endpoints."""

from __future__ import annotations

from crewbuilder.settings.env import env

OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="") or None
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="") or None
