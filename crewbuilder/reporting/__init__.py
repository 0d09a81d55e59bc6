"""Reporting: usage analytics (``/settings/analytics/``, its CSV) and the server-rendered
SVG charts. ``charts`` draws numbers and imports no app, so it stands on the ground floor
(billing's settings page uses it); ``analytics`` and ``views`` read generations and stand
on the top floor."""
