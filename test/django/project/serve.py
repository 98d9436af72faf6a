"""Runs the test site: migrates the shared SQLite file, then serves on 127.0.0.1 with wsgiref.

Prints "READY <port> <django version>" once it accepts connections (port 0 picks a free one).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from wsgiref.simple_server import WSGIRequestHandler, make_server  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


call_command("migrate", verbosity=0, interactive=False)
server = make_server("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0, get_wsgi_application(), handler_class=QuietHandler)
print("READY", server.server_port, django.get_version(), flush=True)
server.serve_forever()
