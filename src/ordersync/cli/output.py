"""Terminal output: Rich progress bars for the Reporter interface, tables, and the error line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ordersync.console import Task

console = Console()
err_console = Console(stderr=True)


class _RichTask:
    def __init__(self, progress: Progress, task_id: Any) -> None:
        self.progress = progress
        self.task_id = task_id

    def advance(self, amount: float = 1) -> None:
        self.progress.advance(self.task_id, amount)

    def update(self, *, total: float | None = None, description: str | None = None) -> None:
        self.progress.update(self.task_id, total=total, description=description)

    def close(self) -> None:
        task = self.progress.tasks[self.task_id] if isinstance(self.task_id, int) else None
        if task is not None and task.total is not None:
            self.progress.update(self.task_id, completed=task.total)
        self.progress.stop_task(self.task_id)


class RichReporter:
    """Progress bars on stderr while work runs; quiet when stderr is not a terminal."""

    def __init__(self, enabled: bool = True) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
            disable=not enabled,
        )

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def task(self, description: str, total: float | None = None) -> Task:
        return _RichTask(self.progress, self.progress.add_task(description, total=total))

    def message(self, text: str) -> None:
        self.progress.console.print(text)


def print_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    if not rows:
        console.print(f"{title}: nothing to show")
        return
    cols = list(columns or rows[0].keys())
    table = Table(title=title)
    for c in cols:
        table.add_column(c.replace("_", " "))
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in cols))
    console.print(table)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))
