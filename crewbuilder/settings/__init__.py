"""CrewBuilder settings, read from the environment through django-environ.

``DJANGO_SETTINGS_MODULE=crewbuilder.settings`` loads this package; each module holds one
concern and reads its own variables (the README's configuration table lists them all):

- ``env``: the environment reader, ``.env`` file, ``DEBUG`` and ``TESTING``
- ``base``: Django itself (apps, middleware, database, auth, email, static, logging, API)
- ``security``: secret key, hosts, the public site URL, cookies and HSTS
- ``celery``: Redis, the cache, Celery, the generation runner and the ONE beat schedule
- ``keys``: encryption keys and the key backends (Vault, AWS KMS)
- ``providers``, ``billing``, ``webhooks``, ``metrics``, ``sentry``: one integration each,
  switched on when its variables are set

Importing settings has no side effects: it reads the environment and refuses a production
configuration that lacks its secrets, nothing more. The embedded default's key file is
written by the keys app at start-up and Sentry is started by the crewbuilder app
(``crewbuilder/apps.py``), both in ``AppConfig.ready``.

The embedded default (``make run``) needs no variables at all: SQLite, in-process tasks,
a locally generated encryption key and billing switched off. Production (``DJANGO_DEBUG``
false) refuses to start without its secrets.
"""

from __future__ import annotations

from crewbuilder.settings.base import *  # noqa: F403
from crewbuilder.settings.billing import *  # noqa: F403
from crewbuilder.settings.celery import *  # noqa: F403
from crewbuilder.settings.env import *  # noqa: F403
from crewbuilder.settings.keys import *  # noqa: F403
from crewbuilder.settings.metrics import *  # noqa: F403
from crewbuilder.settings.providers import *  # noqa: F403
from crewbuilder.settings.security import *  # noqa: F403
from crewbuilder.settings.sentry import *  # noqa: F403
from crewbuilder.settings.webhooks import *  # noqa: F403
