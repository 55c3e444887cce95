"""Planted violations of every bundled rule, the near-misses beside them, and the ground truth.

Each scenario writes its events, reserves the cadre's day or week when it changes ordinary life
(``w.plan``, ``w.busy_weeks``), states every finding it must produce (``w.expect``: every rule
it triggers, not only the one it is for) and what must stay silent (``w.miss``). ``plan`` runs
before the ordinary days are written; ``emit`` after, for scenarios built on ordinary events.
"""

from __future__ import annotations

from world import World

from plants import conduct, presence, work


def plan(w: World) -> None:
    """The scenarios that change ordinary days, and those that need no ordinary events."""
    presence.presence(w)
    presence.vehicles(w)
    conduct.money(w)
    conduct.hospitality(w)
    conduct.complaints(w)
    work.work(w)
    work.avoidances(w)
    work.balance(w)


def emit(w: World) -> None:
    """The scenarios built on ordinary events: duplicate data requests, a week of meetings."""
    work.after_ordinary(w)
