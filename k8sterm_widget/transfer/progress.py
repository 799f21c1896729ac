"""Progress bars: tqdm's notebook bar in a notebook, its text bar in a terminal, nothing when disabled.

``tqdm.auto`` makes the choice (a widget bar inside a Jupyter kernel with ipywidgets, text on stderr
elsewhere). Totals are bytes of file content, so a directory's bar moves with the data, not the file count.
For downloads of a directory the total is the container's ``du`` estimate; the bar is corrected to the
real count at the end.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def update(self, n: int) -> object: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def update(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class Bar:
    """A tqdm bar that snaps to 100 % on success (the total may have been an estimate)."""

    def __init__(self, total: int | None, desc: str) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, mininterval=0.2, leave=True
        )
        self.n = 0

    def update(self, n: int) -> None:
        self.n += n
        self._bar.update(n)

    def finish(self) -> None:
        if self._bar.total != self.n:
            self._bar.total = self.n
            self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def make(enabled: bool, total: int | None, desc: str) -> Bar | NoProgress:
    if not enabled:
        return NoProgress()
    try:
        return Bar(total, desc)
    except ImportError:  # tqdm is a dependency, but a trimmed environment may lack it: no bar, no failure
        return NoProgress()
