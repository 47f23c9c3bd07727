"""``python -m zhenglian`` — the same entry point as the ``zhenglian`` command."""

from zhenglian.cli.main import main

raise SystemExit(main())
