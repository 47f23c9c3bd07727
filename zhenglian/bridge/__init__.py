"""The loopback bridge: the signing web page asks this client to sign a task.

An HTTP service on 127.0.0.1 only (no certificate needed: browsers treat
http://127.0.0.1 as a secure context).  The page hands over a one-time
ticket for a task; the client fetches the task itself from the signing
server, asks the user to confirm in its own window, asks the PIN, signs and
uploads.  Protocol and security model: docs/bridge.md.

- :mod:`.protocol` — ports, limits, origins, request validation;
- :mod:`.service` — the HTTP service (stdlib ThreadingHTTPServer with our limits);
- :mod:`.jobs` — the job table and :class:`~.jobs.BridgeJobs`, the signing runner;
- :mod:`.ratelimit` — token buckets;
- :mod:`.testhook` — the test-only hook (``ZHENGLIAN_TEST_HOOKS=1``).

No Qt here: the tray app (zhenglian/ui/bridge_ui.py) supplies the
confirmation and the PIN prompter as callbacks.
"""
