"""Client of the signing server (电子文件签署系统): API calls, login with the key, token storage.

Qt-free; the tray and the command line use it through zhenglian.tasks.
Protocol: docs/server-api.md.
"""

import sys

# httpx's package __init__ imports its command-line tool when click and rich are installed
# (a development environment has them for other tools): ≈ 5 MB and 60 ms that the client
# never uses.  None in sys.modules makes that optional import fail, as it does where they
# are not installed — the packaged build (build.spec excludes them).
sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
