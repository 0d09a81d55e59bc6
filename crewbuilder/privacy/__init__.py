"""Your data (GDPR): the export of a person's data and the account/organisation deletion
pages (``/settings/account/``, ``/settings/organization/delete/``). The deletion services
are ``accounts.privacy``; each app erases its own rows on ``accounts.signals``."""
