"""The export report: how every workload setting was mapped to the target, or why it was not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAPPED = "mapped"
CHANGED = "changed"  # mapped, but the target behaves differently: read the note
UNMAPPED = "unmapped"
SKIPPED = "skipped"  # the whole workload is not exported


@dataclass(frozen=True)
class Line:
    """One setting of one workload and what became of it."""

    workload: str
    setting: str
    status: str
    note: str

    def as_dict(self) -> dict[str, str]:
        return {"workload": self.workload, "setting": self.setting, "status": self.status,
                "note": self.note}


@dataclass
class Report:
    """Every line the writers added, in the order they were found."""

    target: str
    lines: list[Line] = field(default_factory=list)

    def add(self, workload: str, setting: str, status: str, note: str) -> None:
        line = Line(workload, setting, status, note)
        if line not in self.lines:
            self.lines.append(line)

    def mapped(self, workload: str, setting: str, note: str) -> None:
        self.add(workload, setting, MAPPED, note)

    def changed(self, workload: str, setting: str, note: str) -> None:
        self.add(workload, setting, CHANGED, note)

    def unmapped(self, workload: str, setting: str, note: str) -> None:
        self.add(workload, setting, UNMAPPED, note)

    def skipped(self, workload: str, note: str) -> None:
        self.add(workload, "*", SKIPPED, note)

    def by_status(self, status: str) -> list[Line]:
        return [line for line in self.lines if line.status == status]

    def as_dict(self) -> dict[str, Any]:
        workloads: dict[str, list[dict[str, str]]] = {}
        for line in self.lines:
            workloads.setdefault(line.workload, []).append(line.as_dict())
        return {"target": self.target,
                "counts": {s: len(self.by_status(s)) for s in (MAPPED, CHANGED, UNMAPPED, SKIPPED)},
                "workloads": workloads}

    def text(self) -> str:
        """The report for stderr: per workload, what was not mapped or changed, then the rest."""
        out: list[str] = []
        order = {SKIPPED: 0, UNMAPPED: 1, CHANGED: 2, MAPPED: 3}
        names: list[str] = []
        for line in self.lines:
            if line.workload not in names:
                names.append(line.workload)
        for name in names:
            out.append(f"{name}:")
            for line in sorted((x for x in self.lines if x.workload == name),
                               key=lambda x: order[x.status]):
                out.append(f"  {line.status:8} {line.setting}: {line.note}")
        return "\n".join(out)
