"""A study whose finding is its section's text: for descriptive sections that compute what
they show in one pass (their sentences are chosen by rules inside the section function)."""
from __future__ import annotations

from typing import Callable

from relustudy.studies.common import Context
from relustudy.studies.base import Study


def text_study(name: str, title: str, fn: Callable[[Context], str],
               answer: Callable[[Context], str] | None = None) -> Study:
    """Wrap ``fn(ctx) -> markdown`` (which may start with its own '## ' heading) as a Study;
    ``answer(ctx)``, if given, is its paragraph in the report's opening."""
    def section(found: tuple, verdict, links) -> str:
        lines = found[0].strip().splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("## ") else lines)

    def select(ctx: Context) -> tuple:
        return fn(ctx), (answer(ctx) if answer else None)

    return Study(name=name, title=title, select=select, finding=lambda found: found, section=section,
                 answer=(lambda found, verdict: found[1]) if answer else None)
