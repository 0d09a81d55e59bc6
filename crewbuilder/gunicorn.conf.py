"""gunicorn settings for production (docker-compose.yml and the Dockerfile pass
``-c crewbuilder/gunicorn.conf.py``; flags given on the command line override these).

- Requests gunicorn itself refuses (header too large → 431, bad Content-Length → 400,
  request line too long → 414) are answered in the API's JSON error envelope by the
  worker class below, never with an HTML page.
- The limits are gunicorn's defaults written down, so a change is deliberate.
"""

# The worker: gthread (threads for I/O-bound requests) with JSON error pages.
worker_class = "crewbuilder.gunicorn_workers.JsonErrorThreadWorker"
workers = 3
threads = 4
bind = "0.0.0.0:8000"
accesslog = "-"

# Request limits (bytes / count): a larger request line is a 414, a larger header field
# or more fields a 431 — both in JSON (crewbuilder/gunicorn_workers.py).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# A worker silent for this long is restarted; idle keep-alive connections close after
# keepalive seconds.
timeout = 30
graceful_timeout = 30
keepalive = 5
