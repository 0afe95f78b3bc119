"""The report of :func:`ddpm_edu.diagnose.diagnose`: one :class:`Finding` per check, collected in a
:class:`Diagnosis` that prints as a list of what was seen and what to do."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import InvalidArgument

__all__ = ["SEVERITIES", "Finding", "Diagnosis"]

SEVERITIES = ("error", "warning", "info", "ok")
_MARK = {"error": "✗ error  ", "warning": "! warning", "info": "· info   ", "ok": "✓ ok     "}


@dataclass(frozen=True)
class Finding:
    """One result of one check: ``check`` (a short id such as "data-range"), ``severity`` (one of
    :data:`SEVERITIES`), ``message`` (what was seen, in plain words) and ``fix`` (what to do)."""

    check: str
    severity: str
    message: str
    fix: str = ""

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise InvalidArgument(f"severity must be one of {SEVERITIES}, got {self.severity!r}.")

    def __str__(self) -> str:
        text = f"{_MARK[self.severity]} [{self.check}] {self.message}"
        return text + (f"\n            fix: {self.fix}" if self.fix else "")


class Diagnosis(list):
    """A list of :class:`Finding`. ``ok`` is True when none is an error or a warning."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self if f.severity in ("error", "warning")]

    def find(self, check: str) -> list[Finding]:
        """The findings of one check (by id)."""
        return [f for f in self if f.check == check]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "findings": [asdict(f) for f in self]}

    def __str__(self) -> str:
        order = sorted(self, key=lambda f: SEVERITIES.index(f.severity))
        n = len(self.problems)
        head = (f"diagnosis: {n} problem(s) found" if n else
                f"diagnosis: nothing wrong found ({len(self)} finding(s))")
        return "\n".join([head] + [str(f) for f in order])
