"""Client of the signing server (电子文件签署系统): API calls, login with the key, token storage.

Qt-free; the tray and the command line use it through zhenglian.tasks.
Protocol: docs/server-api.md.
"""
