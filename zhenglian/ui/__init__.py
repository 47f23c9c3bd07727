"""Qt user interface (PySide6).  The only package that imports Qt.

Views here are pure: they display what services computed and hand back what
the operator entered.  Token and network work runs in worker threads
(``zhenglian.ui.workers``), never on the GUI thread.  Every visible string
goes through Qt's translation system (``zhenglian.ui.i18n``).
"""

import sys

import PySide6  # noqa: F401 - loads shibokensupport, whose import hook is tamed below


def _no_source_scan() -> None:
    """Stop PySide6 reading the source of every module imported after it.

    shibokensupport.feature's import hook asks ``inspect.getsource(module)`` of each new
    module whether it names "PySide6", for the optional ``from __feature__ import
    snake_case`` switches, which this client does not use.  The lines stay in linecache
    (≈ 10 MB of a tray that idles for hours) and the reading costs start-up time.  A
    packaged build has no sources to read, so there every module already counts as "does
    not use PySide6"; this makes a source install behave the same.  (PySide6 is pinned; if
    the hook is renamed this does nothing.)
    """
    feature = sys.modules.get("shibokensupport.feature")
    if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = lambda module: False


_no_source_scan()
