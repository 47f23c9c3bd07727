"""Qt user interface (PySide6).  The only package that imports Qt.

Views here are pure: they display what services computed and hand back what
the operator entered.  Token and network work runs in worker threads
(``zhenglian.ui.workers``), never on the GUI thread.  Every visible string
goes through Qt's translation system (``zhenglian.ui.i18n``).
"""
