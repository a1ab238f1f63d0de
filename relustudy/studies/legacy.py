"""Sections not yet split into a study module: each old section function wrapped as a
:class:`Study` (its finding is the section's markdown; no verdict rule of its own yet)."""
from __future__ import annotations

from typing import Callable

from .base import Context, Study


def legacy(name: str, title: str, fn: Callable[[Context], str]) -> Study:
    """Wrap ``fn(ctx) -> markdown`` (which starts with its own '## ' heading) as a Study."""
    def section(text: str, verdict, links) -> str:
        lines = text.strip().splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("## ") else lines)

    select = fn
    return Study(name=name, title=title, select=select, finding=lambda text: text, section=section)
