from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from crewbuilder.connection import close_when_asked

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.settings")
application = close_when_asked(get_wsgi_application())
