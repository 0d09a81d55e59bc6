#!/usr/bin/env bash
# The upgrade test (CI stage "upgrade", also runnable locally). Needs PostgreSQL (server of
# DATABASE_URL), Redis (REDIS_URL), this checkout's dev venv (.venv) and the git history.
#
# 1. restore the previous release's fixture (tests/upgrade/fixture: a pg_dump made by that
#    release's own code, its uploaded media and TEST-ONLY keys) into a fresh database,
# 2. migrate it with HEAD,
# 3. pytest tests/upgrade: nothing lost (every row as it was, logins, stored keys reach the
#    provider, token scopes, zips byte-identical, logos) and a new generation is charged,
# 4. the previous release's web process (its code from git, its own venv, cached between
#    runs) on the migrated database: sign in, list, generate — the rolling-deploy window,
# 5. a logo uploaded before a web restart is served byte-identical by a web process
#    started from a fresh clone of the repository, with an empty media directory.
# Any failure fails the stage; nothing is skipped.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
fixture="$repo/tests/upgrade/fixture"
py="$repo/.venv/bin/python"
step() { printf '\n-- %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -x "$py" ] || fail "no $py: run make install-dev first"
[ -f "$fixture/manifest.json" ] && [ -f "$fixture/dump.sql" ] && [ -f "$fixture/keys.env" ] \
  || fail "the upgrade fixture is missing ($fixture): scripts/upgrade_fixture/make.sh <previous release>"
: "${REDIS_URL:?REDIS_URL is required}"
base_url=${DATABASE_URL:?DATABASE_URL is required (PostgreSQL)}
case "$base_url" in postgres://*|postgresql://*) ;; *) fail "DATABASE_URL must be PostgreSQL";; esac
server="${base_url%/*}"
db="${base_url##*/}_upgrade"
read -r commit version < <("$py" -c 'import json,sys;r=json.load(open(sys.argv[1]))["release"];print(r["commit"],r["version"])' "$fixture/manifest.json")
git -C "$repo" cat-file -e "$commit^{commit}" 2>/dev/null \
  || fail "the previous release's commit $commit is not in this clone (full history needed: git fetch --unshallow)"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
# The fixture's TEST-ONLY keys (the dump's data keys are wrapped by them).
set -a; . "$fixture/keys.env"; set +a
export CREWBUILDER_DEV_KEYS_FILE="$work/no-dev-keys"
unset CREWBUILDER_ENV_FILE || true

step "restore the $version fixture (made by $commit) into $db"
dropdb -h 127.0.0.1 -U postgres --if-exists "$db"
createdb -h 127.0.0.1 -U postgres "$db"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d "$db" -f "$fixture/dump.sql" >/dev/null
mkdir -p "$work/old-media" "$work/empty-media"
cp -R "$fixture/media/." "$work/old-media/"
export DATABASE_URL="$server/$db"

step "migrate to HEAD"
# where the 0.1.0 media volume is mounted, as the changelog's upgrade notes say
CREWBUILDER_TESTING=true CREWBUILDER_MEDIA_ROOT="$work/old-media" "$py" manage.py migrate --noinput \
  | grep -E "Applying|No migrations" || true
CREWBUILDER_TESTING=true "$py" manage.py migrate --check >/dev/null || fail "migrations left unapplied"
CREWBUILDER_TESTING=true "$py" manage.py keys_verify || fail "stored keys do not decrypt after the upgrade"

step "nothing lost, a new generation charged (pytest tests/upgrade, media directory empty)"
CREWBUILDER_UPGRADE_DATABASE_URL="$DATABASE_URL" CREWBUILDER_MEDIA_ROOT="$work/empty-media" \
  "$py" -m pytest tests/upgrade -q -p no:cacheprovider --ds=tests.upgrade.settings

step "fake provider for the web processes"
PYTHONPATH="$repo" "$py" scripts/upgrade_check/fake_llm.py --ready "$work/fake.json" --log "$work/fake.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -f "$work/fake.json" ] && break; sleep 0.1; done
[ -f "$work/fake.json" ] || fail "the fake provider did not start"
fake_openai=$("$py" -c 'import json,sys;print(json.load(open(sys.argv[1]))["openai_base_url"])' "$work/fake.json")
fake_anthropic=$("$py" -c 'import json,sys;print(json.load(open(sys.argv[1]))["anthropic_base_url"])' "$work/fake.json")

# production settings for every web process below (DEBUG off, the fixture's secrets)
export DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost" DJANGO_SECURE_SSL_REDIRECT=false
export CREWBUILDER_SITE_URL="https://127.0.0.1" OPENAI_BASE_URL="$fake_openai" ANTHROPIC_BASE_URL="$fake_anthropic"
export OPENAI_API_KEY=sk-upgrade-check-platform-000000000000PLAT EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend
export LOG_LEVEL=WARNING
unset CREWBUILDER_TESTING || true

start_web() {  # start_web <dir> <python> <media root> <port> <log>
  local dir=$1 python=$2 media=$3 port=$4 log=$5
  local extra=()
  # gunicorn >= 27 opens a control socket at one fixed path per user: not ours to share
  if "$python" -m gunicorn --help 2>/dev/null | grep -q -- --no-control-socket; then extra+=(--no-control-socket); fi
  (cd "$dir" && PYTHONPATH="$dir" DJANGO_DEBUG=false "$python" manage.py collectstatic --noinput >/dev/null)
  (cd "$dir" && exec env PYTHONPATH="$dir" CREWBUILDER_MEDIA_ROOT="$media" \
     "$python" -m gunicorn crewbuilder.wsgi:application --bind "127.0.0.1:$port" \
     --workers 1 --threads 4 --timeout 120 "${extra[@]}" >"$log" 2>&1) &
  pids+=($!)
  web_pid=$!
}
stop_web() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

step "the $version web process on the migrated schema (rolling deploy)"
mkdir "$work/old-src"
git -C "$repo" archive "$commit" | tar -x -C "$work/old-src"
old_venv=$(scripts/release_venv.sh "$work/old-src")
port=$(free_port)
# no REDIS_URL: the old process runs its generations in a thread of its own
REDIS_URL= CREWBUILDER_GENERATION_RUNNER=thread start_web "$work/old-src" "$old_venv/bin/python" "$work/old-media" "$port" "$work/old-web.log"
old_pid=$web_pid
"$py" scripts/upgrade_check/journey.py rolling --base-url "http://127.0.0.1:$port" \
  --manifest "$fixture/manifest.json" --fake-log "$work/fake.log" \
  || { tail -n 40 "$work/old-web.log"; fail "the $version web process does not work on the migrated schema"; }
stop_web "$old_pid"

step "a logo uploaded before a web restart is served byte-identical from a fresh clone"
"$py" -c 'import io,sys;from PIL import Image;i=Image.new("RGB",(120,40),(12,140,90));b=io.BytesIO();i.save(b,"PNG");open(sys.argv[1],"wb").write(b.getvalue())' "$work/new-logo.png"
mkdir -p "$work/media-a" "$work/media-b"
port=$(free_port)
CREWBUILDER_GENERATION_RUNNER=sync start_web "$repo" "$py" "$work/media-a" "$port" "$work/web-a.log"
a_pid=$web_pid
"$py" scripts/upgrade_check/journey.py logo-upload --base-url "http://127.0.0.1:$port" \
  --manifest "$fixture/manifest.json" --logo "$work/new-logo.png" --record "$work/logo.json" \
  || { tail -n 40 "$work/web-a.log"; fail "logo upload"; }
stop_web "$a_pid"
rm -rf "$work/media-a"  # the first container's disk is gone with it
git clone --quiet --no-hardlinks "$repo" "$work/clone"
git -C "$work/clone" checkout --quiet "$(git -C "$repo" rev-parse HEAD)"
where=$(cd "$work/clone" && PYTHONPATH="$work/clone" "$py" -c 'import crewbuilder;print(crewbuilder.__file__)')
case "$where" in "$work/clone/"*) ;; *) fail "the second web process would not run the fresh clone's code ($where)";; esac
port=$(free_port)
CREWBUILDER_GENERATION_RUNNER=sync start_web "$work/clone" "$py" "$work/media-b" "$port" "$work/web-b.log"
b_pid=$web_pid
"$py" scripts/upgrade_check/journey.py logo-fetch --base-url "http://127.0.0.1:$port" \
  --manifest "$fixture/manifest.json" --record "$work/logo.json" \
  || { tail -n 40 "$work/web-b.log"; fail "logo after restart"; }
[ -z "$(ls -A "$work/media-b")" ] || fail "the web process wrote to its media directory: $(ls -R "$work/media-b")"

stop_web "$b_pid"
dropdb -h 127.0.0.1 -U postgres --if-exists "$db"  # kept when a step failed, to look at
echo
echo "upgrade from $version: all checks passed"
