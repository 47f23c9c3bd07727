"""Signing tasks from the signing server: sync, batch signing, the outbox (Qt-free).

- :mod:`.batch` — sign many tasks with one PIN, upload as you go;
- :mod:`.outbox` — signed files kept on disk until the server has them;
- :mod:`.sync` — :class:`~.sync.TaskSync`, the pending-task list the tray shows;
- :mod:`.signer` — the one bridge to zhenglian.pdf; :mod:`.sealpick` — which seal.
"""
