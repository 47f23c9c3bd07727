"""Entry point of the PyInstaller bundle (both ``zhenglian`` and ``zhenglian-gui``).

The same as the ``zhenglian`` console script: with arguments it runs a
subcommand, without arguments it starts the tray application.
"""

import sys

from zhenglian.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
