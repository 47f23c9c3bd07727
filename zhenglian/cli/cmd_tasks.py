"""``zhenglian tasks list|sync|sign``: the signing server's tasks from the command line.

- ``list``: the institution's tasks (default: pending), plus what waits in the outbox;
- ``sync``: upload what waits in the outbox and show the pending tasks;
- ``sign ID… | --all``: sign tasks with one PIN (fetch, check, stamp, sign,
  verify, queue, upload); Ctrl+C stops after the current document, and what
  is signed is still uploaded.

The server URL defaults to ``server_url`` in the settings.  A login is kept
in the OS keyring (never the PIN); when it is missing or expired the PIN is
asked for once (terminal, or a line on stdin with ``--pin-stdin``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from zhenglian import errors
from zhenglian.cli.output import err, line, print_json, safe
from zhenglian.services import Context


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    shared = argparse.ArgumentParser(add_help=False, parents=[common])
    shared.add_argument("--server", metavar="URL", help="签署服务器地址（默认取设置 server_url）/ signing server URL")
    shared.add_argument("--key", metavar="SERIAL", help="UKey 序列号或标签 / key serial or label")
    shared.add_argument("--pin-stdin", action="store_true", help="从标准输入读 PIN（一行）/ read the PIN from stdin")
    shared.add_argument("--confirm-final-try", action="store_true",
                        help="确认使用最后一次 PIN 机会 / confirm using the last PIN try")
    shared.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p = sub.add_parser("tasks", parents=[common], help="签署服务器的任务 / signing-server tasks")
    actions = p.add_subparsers(dest="tasks_action", metavar="ACTION", required=True)
    x = actions.add_parser("list", parents=[shared], help="列出任务 / list tasks")
    x.add_argument("--status", choices=("pending", "signed", "rejected", "all"), default="pending")
    x.set_defaults(func=run_list)
    x = actions.add_parser("sync", parents=[shared], help="上传待上传文件并刷新 / upload the outbox and refresh")
    x.set_defaults(func=run_sync)
    x = actions.add_parser("sign", parents=[shared], help="签署任务（一次 PIN）/ sign tasks with one PIN")
    x.add_argument("ids", nargs="*", metavar="ID", help="任务编号 / task ids")
    x.add_argument("--all", action="store_true", help="全部待签署任务 / every pending task")
    x.add_argument("--upload-wait", type=float, default=30.0, metavar="S",
                   help="签完后等待上传的秒数（其余留在待上传队列）/ seconds to wait for uploads after signing")
    x.set_defaults(func=run_sign)


# --- shared set-up -----------------------------------------------------------------

def _workspace(args: argparse.Namespace) -> tuple[Any, Any]:
    """The key's TaskWorkspace (the tray app's too) and a terminal PIN prompter."""
    from zhenglian.cli.cmd_pin import TerminalPrompter
    from zhenglian.tasks.workspace import TaskWorkspace

    ctx = Context.create(args.module)
    url = args.server or ctx.settings.server_url
    if not url:  # before looking for a key: the first thing to fix
        raise errors.ServerNotConfigured()
    return TaskWorkspace(ctx, ctx.tokens.find_key(args.key), url), TerminalPrompter(args)


def _task_line(t: Any) -> str:
    """One task on one line; every value in it is the server's text, each made terminal-safe."""
    where = safe(t.placement.anchor_text) or (f"第{t.placement.page}页" if t.placement.page > 0 else "末页")
    extra = "，骑缝章" if t.placement.cross_page else ""
    due = f"，截止 {safe(t.deadline, 40)}" if t.deadline else ""
    return (f"{safe(t.id, 200)}  [{t.status_zh}] {safe(t.title)}（{safe(t.business_type)}；"
            f"{safe(t.seal_type) or '印章'} @ {where}{extra}{due}）")


def _outbox_lines(ws: Any) -> list[str]:
    out = []
    queued, failed = ws.outbox.pending(ws.origin), ws.outbox.failed(ws.origin)
    if queued:
        out.append(f"待上传 / waiting to upload: {len(queued)}")
    for e in failed:
        out.append(f"被服务器拒收 / refused: {safe(e.title or e.task_id)}: {safe(e.last_message_zh)} / "
                   f"{safe(e.last_message_en)}")
    return out


# --- commands ----------------------------------------------------------------------

def run_list(args: argparse.Namespace) -> int:
    ws, prompter = _workspace(args)
    try:
        listing = ws.call(prompter, ws.client.tasks, args.status)
    finally:
        ws.stop()
    if args.json:
        print_json({"server": ws.origin, "tasks": [t.to_dict() for t in listing.tasks],
                    "outbox_waiting": len(ws.outbox.pending(ws.origin)),
                    "outbox_refused": len(ws.outbox.failed(ws.origin))})
        return 0
    line(f"{safe(ws.origin)}：{len(listing.tasks)} 个任务 / tasks ({args.status})")
    for t in listing.tasks:
        line(_task_line(t))
    for text in _outbox_lines(ws):
        line(text)
    return 0


def run_sync(args: argparse.Namespace) -> int:
    ws, prompter = _workspace(args)
    try:
        report = ws.call(prompter, lambda: ws.outbox.flush(ws.client, ws.origin, force=True))
        if report.auth_required:
            ws.session.forget()
            ws.login(prompter)
            report = ws.outbox.flush(ws.client, ws.origin, force=True)
        listing = ws.call(prompter, ws.client.tasks, "pending") if report.error is None else None
    finally:
        ws.stop()
    if args.json:
        print_json({"server": ws.origin, "uploaded": [e.task_id for e in report.uploaded],
                    "refused": [e.to_dict() for e in report.refused], "remaining": report.remaining,
                    "error": report.error.to_dict() if report.error else None,
                    "pending": [t.to_dict() for t in listing.tasks] if listing else None})
    else:
        line(f"已上传 / uploaded: {len(report.uploaded)}，仍待上传 / still waiting: {report.remaining}")
        for e in report.refused:
            line(f"被拒收 / refused: {safe(e.title or e.task_id)}: {safe(e.last_message_zh)} / "
                 f"{safe(e.last_message_en)}")
        if listing is not None:
            line(f"待签署任务 / pending tasks: {len(listing.tasks)}")
            for t in listing.tasks:
                line(_task_line(t))
    if report.error is not None:
        raise report.error
    if report.busy:
        line("另一个证联进程正在上传 / another zhenglian process is uploading")
    return errors.ExitCode.SERVER if report.refused else 0


def run_sign(args: argparse.Namespace) -> int:
    from zhenglian.tasks import batch

    if bool(args.ids) == bool(args.all):
        raise errors.UsageError(detail="请给出任务编号，或用 --all / give task ids, or --all")
    ws, prompter = _workspace(args)
    cancel = threading.Event()
    started = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set() or not started.is_set():  # at the PIN prompt: stop at once
            raise KeyboardInterrupt
        cancel.set()
        err("正在停止：当前文件签完后停止，已签文件继续上传 / stopping after the current document")

    def on_progress(p: batch.Progress) -> None:
        started.set()
        if args.json:
            return
        labels = {"signed": "已签署 / signed", "uploaded": "已上传 / uploaded", "failed": "失败 / failed",
                  "skipped": "跳过 / skipped"}
        if p.phase in labels:
            text = f"[{p.index + 1}/{p.total}] {labels[p.phase]}: {safe(p.title or p.task_id)}"
            if p.error is not None:
                text += f" — {safe(p.error.message_zh())} / {safe(p.error.message_en())}"
            line(text)

    previous = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        # flags (locked, final try), then the PIN, once; the workspace wipes it
        result = ws.sign(None if args.all else args.ids, prompter, progress=on_progress, cancel=cancel,
                         upload_wait_s=args.upload_wait)
    finally:
        ws.stop()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json(result.to_dict())
    else:
        for o in result.outcomes:
            if o.state in (batch.FAILED, batch.QUEUED) and o.error is not None:
                line(f"{safe(o.title or o.task_id)}: {batch.STATE_ZH[o.state]} — {safe(o.error.message_zh())} / "
                     f"{safe(o.error.message_en())}")
        line(result.summary_zh())
        line(result.summary_en())
    if result.ok:
        return 0
    if result.stopped_by is not None:
        return result.stopped_by.exit_code
    if result.cancelled:
        return errors.ExitCode.CANCELLED
    if result.count(batch.FAILED):
        failed = next(o for o in result.outcomes if o.state == batch.FAILED)
        return failed.error.exit_code if failed.error else errors.ExitCode.ERROR
    return errors.ExitCode.SERVER  # signed, but waiting in the outbox
