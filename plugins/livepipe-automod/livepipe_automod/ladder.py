"""The action ladder: each offence against a rule moves a user one step up (warn -> ban -> longer ban).

Memory is per (rule, room, user) and bounded (least recently seen users are forgotten first). One
step is forgotten per ``decay`` seconds without an offence, so a user who behaves climbs down again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from livepipe.bilibili.actions import check_hours


@dataclass(frozen=True, slots=True)
class Step:
    """One rung: ``action`` is ``flag``, ``warn`` or ``ban`` (then ``hours``: -1 permanent, 0 this stream)."""

    action: str
    hours: int | None = None

    def __str__(self) -> str:
        return f"ban:{self.hours}" if self.action == "ban" else self.action


def parse_step(text: str) -> Step:
    """``"flag"``, ``"warn"`` or ``"ban:HOURS"``; raises ``ValueError`` for anything else."""
    t = text.strip().lower()
    if t in ("flag", "warn"):
        return Step(t)
    if t.startswith("ban:"):
        try:
            hours = check_hours(t[4:].strip())
        except ValueError as e:
            raise ValueError(f"ladder step {text!r}: {e}") from None
        return Step("ban", hours)
    raise ValueError(f'ladder step {text!r}: use "flag", "warn" or "ban:HOURS" (-1 permanent, 0 this stream)')


@dataclass(slots=True)
class _Record:
    strikes: int
    last_offence: float
    last_action: float | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one offence: the step, the user's strike count, and whether a cooldown held it back."""

    step: Step
    strike: int
    cooling_down: bool
    held_back: bool = False


class Ladder:
    """Per-user strike memory for every rule; :meth:`offend` says which step an offence reaches."""

    def __init__(self, max_users: int = 100_000) -> None:
        self.max_users = max_users
        self._records: OrderedDict[tuple[str, int | None, int], _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def offend(self, rule: str, room_id: int | None, uid: int, steps: list[Step], *, now: float,
               decay: float, cooldown: float, may_ban: bool = True) -> Decision:
        """Record an offence at ``now`` and return the step it reaches.

        Within ``cooldown`` seconds of the last action on this user for this rule, the offence is not
        a new strike (a burst of spam is one offence) and the decision is a ``flag``. Without
        ``may_ban`` (a match too weak to ban on), an offence whose step would be a ban is not a strike
        either: the decision names that step with ``held_back`` set, and the user stays where they were.
        """
        key = (rule, room_id, uid)
        rec = self._records.pop(key, None)
        if rec is None:
            rec = _Record(0, now, None)
        else:
            forgotten = int((now - rec.last_offence) // decay) if decay > 0 else 0
            rec.strikes = max(0, rec.strikes - forgotten)
        self._records[key] = rec
        if len(self._records) > self.max_users:
            self._records.popitem(last=False)
        if rec.last_action is not None and now - rec.last_action < cooldown:
            rec.last_offence = now
            return Decision(Step("flag"), rec.strikes, True)
        step = steps[min(rec.strikes + 1, len(steps)) - 1]
        rec.last_offence = now
        if step.action == "ban" and not may_ban:
            return Decision(step, rec.strikes, False, held_back=True)
        rec.strikes += 1
        rec.last_action = now
        return Decision(step, rec.strikes, False)
