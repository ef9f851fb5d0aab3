"""Errors and skip reports shared by the dataset readers."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field


class DataError(ValueError):
    """A dataset file is malformed. The message names the file, the row or file, and the fix."""


@dataclass
class SkipReport:
    """What a reader skipped when called with ``on_error="skip"``."""

    path: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (row or file, reason)

    def add(self, where: str, reason: str) -> None:
        self.skipped.append((where, reason))

    def __len__(self) -> int:
        return len(self.skipped)

    def warn(self) -> None:
        """Emit one warning summarising what was skipped (nothing when nothing was)."""
        if self.skipped:
            head = "; ".join(f"{w}: {r}" for w, r in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            warnings.warn(f"{self.path}: skipped {len(self.skipped)} bad entries: {head}{more}", stacklevel=3)


def check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
