"""``python -m zhenglian.reference.server`` = ``zhenglian-server``."""

from zhenglian.reference.server.cli import main

raise SystemExit(main())
