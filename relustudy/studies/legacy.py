"""A study whose finding is its section's text: for descriptive sections that claim nothing
(no verdict) and compute what they show in one pass."""
from __future__ import annotations

from typing import Callable

from .base import Context, Study


def text_study(name: str, title: str, fn: Callable[[Context], str]) -> Study:
    """Wrap ``fn(ctx) -> markdown`` (which starts with its own '## ' heading) as a Study."""
    def section(text: str, verdict, links) -> str:
        lines = text.strip().splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("## ") else lines)

    select = fn
    return Study(name=name, title=title, select=select, finding=lambda text: text, section=section)
