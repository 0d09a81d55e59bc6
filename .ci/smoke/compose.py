"""Read a service's command, environment and healthcheck from docker-compose.yml, so the
smoke stage starts exactly what `docker compose up` starts.

    python .ci/smoke/compose.py docker-compose.yml web command --sub 0.0.0.0:8000=127.0.0.1:PORT

prints the argv NUL-separated (a string command is split the way Compose splits it, with
shell quoting rules; an argument may hold newlines). ``environment`` prints the service's environment (after ``<<`` merges) as
NAME=VALUE, NUL-separated, with ``--set NAME=VALUE`` replacing a value (the container host names of the
database and Redis become the local ones); ``healthcheck`` prints the healthcheck's argv.

Outside containers only host names, ports and paths can differ; ``--sub OLD=NEW`` replaces
them, and a substitution that matches nothing is an error, so a changed compose file
fails the smoke stage instead of being silently ignored.
"""

from __future__ import annotations

import argparse
import shlex
import sys

import yaml


def service(path: str, name: str) -> dict:
    with open(path) as fh:
        doc = yaml.safe_load(fh)  # resolves the x-app anchor and `<<` merge keys
    try:
        return doc["services"][name]
    except KeyError:
        sys.exit(f"compose: no service {name!r} in {path}")


def as_argv(value) -> list[str]:
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def substitute(argv: list[str], subs: list[str]) -> list[str]:
    for sub in subs:
        old, _, new = sub.partition("=")
        if not any(old in arg for arg in argv):
            sys.exit(f"compose: {old!r} not found in {argv!r}: update .ci/smoke/run")
        argv = [arg.replace(old, new) for arg in argv]
    return argv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("compose_file")
    parser.add_argument("service")
    parser.add_argument("what", choices=["command", "environment", "healthcheck"])
    parser.add_argument("--sub", action="append", default=[], metavar="OLD=NEW")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    svc = service(args.compose_file, args.service)
    if args.what == "environment":
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        env = {str(k): "" if v is None else str(v) for k, v in env.items()}
        for item in args.set:
            name, _, value = item.partition("=")
            if name not in env:
                sys.exit(f"compose: {args.service} sets no {name}: update .ci/smoke/run")
            env[name] = value
        sys.stdout.write("".join(f"{k}={v}\0" for k, v in env.items()))
        return
    if args.what == "command":
        if "command" not in svc:
            sys.exit(f"compose: service {args.service!r} has no command")
        argv = as_argv(svc["command"])
    else:
        test = as_argv((svc.get("healthcheck") or {}).get("test") or [])
        if not test or test[0] not in ("CMD", "CMD-SHELL"):
            sys.exit(f"compose: service {args.service!r} has no CMD healthcheck")
        argv = test[1:] if test[0] == "CMD" else ["sh", "-c", " ".join(test[1:])]
    sys.stdout.write("".join(f"{arg}\0" for arg in substitute(argv, args.sub)))


if __name__ == "__main__":
    main()
