"""``zhenglian`` entry point: subcommands, error handling, exit codes.

Each subcommand lives in its own module ``zhenglian.cli.cmd_<name>`` with a
``register(subparsers, common)`` function.  Errors print a clear message
(Chinese, then English) and exit with the code from zhenglian.errors; a
traceback goes to the log file only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence

from zhenglian import __version__, errors, logsetup, paths
from zhenglian.cli.output import err

COMMANDS = ("keys", "pin", "seals", "sign", "verify", "tasks", "renew", "forms", "doctor", "demo", "register")

log = logging.getLogger("zhenglian.cli")


def common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--module", action="append", default=[], metavar="PATH",
        help="额外的 PKCS#11 驱动文件（可重复）/ extra PKCS#11 module file (repeatable)",
    )
    return common


NO_COMMAND = ""  # _command_in: no subcommand at all (the tray application starts)


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``, if it is certain which one (else None).

    Only the first argument that is not an option can name it; ``--module``
    takes a value, so the word after it is skipped.  No word at all gives
    :data:`NO_COMMAND` (the tray starts: no subcommand module is needed).
    Anything unusual (help, an unknown word) gives None and the full parser.
    """
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--module":
            skip = True
            continue
        if arg.startswith("-"):
            if arg in ("-h", "--help", "--version"):
                return None
            continue
        return arg if arg in COMMANDS else None
    return NO_COMMAND


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's (a cold start imports one command, not eleven).

    ``only=NO_COMMAND`` builds no subcommand at all: the tray's start imports none of them.
    """
    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="zhenglian",
        description="证联客户端 — UKey 电子签章 / zhenglian — UKey e-seal signing client",
        epilog="不带子命令运行时启动托盘程序 / without a subcommand, starts the tray application",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"zhenglian {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,) if only else ():
        importlib.import_module(f"zhenglian.cli.cmd_{name}").register(sub, common)
    return parser


def _utf8_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    _utf8_stdio()
    words = sys.argv[1:] if argv is None else argv
    if not words:
        # The tray, as the desktop starts it: no parser to build (argparse's help formatter
        # alone imports shutil, bz2 and lzma, before the tray icon).
        return _start_gui(argparse.Namespace(command=None, module=[]))
    parser = build_parser(_command_in(words))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version or a usage error
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        return _start_gui(args)
    logsetup.open_log()
    try:
        return int(args.func(args) or 0)
    except errors.ZhenglianError as exc:
        err(exc.user_message())  # may hold server text: terminal-safe
        return exc.exit_code
    except KeyboardInterrupt:
        err(errors.PinCancelled().user_message())
        return errors.ExitCode.CANCELLED
    except Exception as exc:  # last resort: never a traceback on screen
        log.exception("unexpected error in command %s", args.command)
        err(errors.describe(exc))
        err(f"详情见日志 / details in the log: {paths.log_dir() / 'zhenglian.log'}")
        return errors.ExitCode.ERROR


def _start_gui(args: argparse.Namespace) -> int:
    # The log file is opened once the tray icon is shown (ui/app.run); records wait until then.
    logsetup.hold()
    try:
        return _run_gui(args)
    finally:
        logsetup.open_log()  # the icon was never shown (another instance runs, no Qt): the held records still go out


def _run_gui(args: argparse.Namespace) -> int:
    # The tray's first non-Qt modules before Qt itself: PySide6 reads the source of every
    # module imported after it (its __feature__ check, ≈ 0.2 ms a module from a source
    # install; a bundle has no sources to read).
    for name in ("zhenglian.config", "zhenglian.instance", "html"):
        importlib.import_module(name)
    try:
        app = importlib.import_module("zhenglian.ui.app")
    except ImportError:
        build_parser().print_help()
        return errors.ExitCode.USAGE
    return int(app.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
