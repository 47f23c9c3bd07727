"""Reference parts that are not the client: the demo CA, demo-key provisioning
and (later) the reference signing server.

The client never imports this package (only the ``zhenglian demo`` command
does, lazily); the installer does not ship it.
"""
