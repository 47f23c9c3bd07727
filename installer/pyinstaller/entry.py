"""Entry point of the PyInstaller bundle (both ``zhenglian`` and ``zhenglian-gui``).

The same as the ``zhenglian`` console script: with arguments it runs a
subcommand, without arguments it starts the tray application.  A job flag as
the first argument (zhenglian.selfexec.JOBS: trying a PKCS#11 module, reading
the keyring) runs that job in this short-lived child and nothing else.
"""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
        from zhenglian import selfexec

        if sys.argv[1] in selfexec.JOBS:
            sys.exit(selfexec.main_for(sys.argv[1], sys.argv[2:]))
    from zhenglian.cli.main import main

    sys.exit(main())
