"""The 待签署 page with a huge listing: what filling the task table costs the GUI thread, and memory.

A server's pending listing may hold ~100k tasks within the 16 MiB JSON limit. The page shows at
most ``tasks_view.ROW_CAP`` rows; this prints what a listing costs the GUI thread with that cap and,
beside it, without (every task a row, as the page did before). No server and no key: the listing
is made in memory and handed to the page as the task sync would. Qt runs offscreen.

Run:  .venv/bin/python benchmarks/tasklist_bench.py [--tasks 100000] [--rounds 5] [--no-uncapped]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["ZHENGLIAN_HOME"] = tempfile.mkdtemp(prefix="zhenglian-tasklist-bench-")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def listing(n: int):  # type: ignore[no-untyped-def]
    from zhenglian.server.models import Placement, Task

    return tuple(Task(f"{i:016x}", f"委托扣款授权书 #{i + 1}", "公积金贷款", "2024-05-01T08:00:00Z", "2024-12-31",
                      "pending", "合同专用章", Placement(page=-1, anchor_text="甲方（盖章）"), f"委托扣款授权书-{i + 1}.pdf",
                      "0" * 64, 40_000, f"/api/v1/tasks/{i:016x}/document") for i in range(n))


def measure(tasks: tuple, rounds: int) -> dict[str, float]:  # type: ignore[type-arg]
    from _timing import median_ms
    from PySide6.QtWidgets import QApplication

    from zhenglian.services import Context
    from zhenglian.tasks.sync import TaskSummary
    from zhenglian.ui.task_board import TaskBoard
    from zhenglian.ui.tasks_view import TasksView

    app = QApplication.instance() or QApplication([])
    board = TaskBoard(Context.create())
    view = TasksView(board)
    summary = TaskSummary("https://sign.example.org", len(tasks), tasks, online=True)
    board.current = "bench"
    board.summaries["bench"] = summary
    before = rss_mb()
    fill = median_ms(lambda: (view._on_summary(summary), app.processEvents()), rounds)
    rows = view.table.rowCount()
    after = rss_mb()
    few = median_ms(lambda: (view.search.setText(f"#{len(tasks)}"), view.search.setText("")), rounds)
    view.close()
    return {"rows": rows, "fill_ms": round(fill, 1), "search_and_clear_ms": round(few, 1),
            "rss_growth_mb": round(after - before, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-uncapped", action="store_true", help="skip the slow figure without the cap")
    args = parser.parse_args()
    tasks = listing(args.tasks)
    try:
        return _run(args, tasks)
    finally:
        import shutil

        shutil.rmtree(os.environ["ZHENGLIAN_HOME"], ignore_errors=True)


def _run(args: argparse.Namespace, tasks: tuple) -> int:  # type: ignore[type-arg]
    from zhenglian.ui import tasks_view

    out = {"tasks": args.tasks, "row_cap": tasks_view.ROW_CAP, "capped": measure(tasks, args.rounds)}
    c = out["capped"]
    print(f"{args.tasks} tasks, table capped at {tasks_view.ROW_CAP} rows: fill {c['fill_ms']} ms, "
          f"search + clear {c['search_and_clear_ms']} ms, RSS +{c['rss_growth_mb']} MB", flush=True)
    if not args.no_uncapped:
        tasks_view.ROW_CAP = args.tasks  # every task a row, as before the cap
        u = out["uncapped"] = measure(tasks, 1)
        print(f"{args.tasks} tasks, every one a row: fill {u['fill_ms']} ms, search + clear "
              f"{u['search_and_clear_ms']} ms, RSS +{u['rss_growth_mb']} MB", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
