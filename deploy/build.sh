#!/bin/sh
# The image's build steps, in one place: the Dockerfile runs this script, and so does the
# production smoke stage of .ci/run (.ci/smoke/run), so what CI proves is what ships.
#
#   1. `pip install .` — the production dependencies only (no dev extras).
#   2. collectstatic with production settings (DJANGO_DEBUG=false), which writes the hashed
#      files and the staticfiles.json manifest that production's storage serves from.
#
# Run from the source tree with the Python that will serve the app (PYTHON, default
# `python`). collectstatic runs in a clean environment (env -i): whatever the shell or a
# local .env says, it sees production settings. It reads no secret and the image must not
# contain one, so the variables production insists on get build-time placeholders.
set -eu
PYTHON="${PYTHON:-python}"

"$PYTHON" -m pip install --no-cache-dir .

env -i PATH="$PATH" HOME="${HOME:-/tmp}" LANG=C.UTF-8 \
    DJANGO_DEBUG=false CREWBUILDER_ENV_FILE=/dev/null \
    DJANGO_SECRET_KEY=collectstatic-build-placeholder-not-a-secret-0123456789abcdef \
    DJANGO_ALLOWED_HOSTS=build.invalid CREWBUILDER_SITE_URL=https://build.invalid \
    CREWBUILDER_ENCRYPTION_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    "$PYTHON" manage.py collectstatic --noinput --clear

# Production serves every page through the manifest: without it each page is a 500.
test -s staticfiles/staticfiles.json || {
    echo "build: staticfiles/staticfiles.json is missing (collectstatic ran without production settings)" >&2
    exit 1
}
