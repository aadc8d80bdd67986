"""Progress bars on stderr, drawn by rich when stderr is an interactive terminal.

A command makes one ``Bars`` and adds a bar per phase of its work: a bar with a
total advances as the work is counted (rows sent, bytes read or written); a bar
without one (``total=None``) is an honest "working" bar, for a phase that is one
call into the library and reports nothing until it is done.  When stderr is not
a terminal (or ``--no-progress``), nothing is drawn and the calls cost nothing.
The bars are transient: once the work ends they are erased, and the command's
result line is what stays on the screen.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from .render import interactive

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Bars:
    """The progress bars of one command (a context manager)."""

    def __init__(self, enabled: bool = True) -> None:
        self._progress: "Optional[Progress]" = None
        self._task: "Optional[TaskID]" = None
        console = interactive(stderr=True) if enabled else None
        if console is None:
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(finished_text=" "), TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
            console=console, transient=True, refresh_per_second=10)
        self._progress.start()

    @property
    def drawn(self) -> bool:
        """Whether bars are drawn (stderr is an interactive terminal and they were not turned off)."""
        return self._progress is not None

    def __enter__(self) -> "Bars":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def phase(self, description: str, total: Optional[float] = None, unit: str = "") -> None:
        """Start a new bar (the previous one is marked done). ``total`` None: no total is known
        (the library works in one call): the bar pulses instead of filling."""
        p = self._progress
        if p is None:
            return
        if self._task is not None:
            t = p.tasks[-1]
            if t.total is not None:
                p.update(self._task, completed=t.total)
            else:
                p.update(self._task, total=1, completed=1)
        self._task = p.add_task(description, total=total, count="", unit=unit)

    def reporter(self) -> "Callable[[int, int], None]":
        """A ``progress(done, total)`` callback (``tim_py.snapshot``'s) that sets the current bar."""
        def report(done: int, total: int) -> None:
            p = self._progress
            if p is None or self._task is None:
                return
            p.update(self._task, completed=done, total=total or None)
            p.update(self._task, count=_count(p.tasks[-1]))
        return report

    def advance(self, n: float = 1) -> None:
        p = self._progress
        if p is None or self._task is None:
            return
        p.advance(self._task, n)
        p.update(self._task, count=_count(p.tasks[-1]))


def _count(t: Any) -> str:
    """What a bar says of its count: done of total, percent, rate (rows a second, or MB)."""
    if t.total is None:
        return ""
    speed = t.speed or 0.0
    if t.fields.get("unit") == "bytes":
        return f"{t.completed / 1e6:,.1f}/{t.total / 1e6:,.1f} MB {t.percentage:3.0f}% {speed / 1e6:,.0f} MB/s"
    return f"{t.completed:,.0f}/{t.total:,.0f} {t.percentage:3.0f}% {speed:,.0f}/s"
