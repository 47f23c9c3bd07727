"""The reference signing server: what the client talks to, in the open.

A small FastAPI application over SQLite that plays the part of the
provident-fund signing system (电子文件签署系统 机构端): institutions log in with
their UKey certificate, fetch pending signing tasks, upload the signed PDF or
reject the task.  It exists so the client can be built and tested end to end
without the real system; ``docs/server-api.md`` is its protocol.

The client never imports this package and the installer does not ship it.
Run it with ``zhenglian-server run --data DIR`` (see :mod:`.cli`).
"""
