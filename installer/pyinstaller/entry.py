"""Entry point of the PyInstaller bundle (both ``zhenglian`` and ``zhenglian-gui``).

The same as the ``zhenglian`` console script: with arguments it runs a
subcommand, without arguments it starts the tray application.
"""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe-pkcs11-module":
        # A PKCS#11 module tried in a child process before the app loads it (zhenglian/tokens/probe.py).
        from zhenglian.tokens import probe

        sys.exit(probe.main(sys.argv[2:]))
    from zhenglian.cli.main import main

    sys.exit(main())
