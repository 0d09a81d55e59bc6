"""Run localstripe on 127.0.0.1:<port> (argv[1]) for one test session.

localstripe's own entry point binds every interface and pickles its store to a fixed
/tmp path shared by all runs; this wrapper binds loopback only and keeps the store in
memory."""

from __future__ import annotations

import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None

if __name__ == "__main__":
    web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
