"""Scores from the stored figures: weights, renormalisation, stars and ranks (no queries).

A branch's score for a month, 0 to 100, is the weighted mean of the rates of the criteria that
apply to it: each applicable criterion's share is its weight over the sum of the applicable
weights (so the shares add up to 100 whichever criteria apply), and it earns share × rate
points. A criterion with weight 0, without data, or with nothing due that month earns nothing
and takes no share. A branch with no applicable criterion, or not judged that month (it was not
yet in the system), has no score. Stars follow the ``[assessment]`` bands; ranks are
competition ranks (equal scores share a rank, the next rank skips) among the branches with a
score. Branches are ranked, people never.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from core.config import ASSESSMENT_CRITERIA, STAR_BANDS, Settings
from handlers.assessment.criteria import LABELS, NO_DATA, Measure

STAR_LABELS = {5: "五星", 4: "四星", 3: "三星", 2: "二星", 1: "一星"}
NOT_JUDGED = "本月尚未使用本系统，不评定"


@dataclass(frozen=True)
class Part:
    """One criterion of a branch's breakdown."""

    name: str
    label: str
    weight: int  # as configured
    measure: Measure  # due 0: not applicable, its text says why
    share: float | None  # the weight after renormalisation, of 100; None: not counted
    points: float | None  # share × rate

    @property
    def counted(self) -> bool:
        return self.share is not None

    @property
    def rate(self) -> float | None:
        return self.measure.rate if self.counted else None

    @property
    def summary(self) -> str:
        """The figures and the rate ("达标 4/5 项（80%）"), or why it is not counted."""
        if self.counted:
            return f"{self.measure.text}（{self.rate:.0%}）"
        return f"{self.measure.text}（不计）" if self.weight else "权重为 0（不计）"


@dataclass(frozen=True)
class Score:
    """One branch's month: its breakdown, score (one decimal), stars and rank."""

    branch_id: int
    branch_name: str
    month: date
    judged: bool  # the branch was in the system from the month's first day
    parts: list[Part]
    score: float | None
    stars: int | None
    rank: int | None = None

    @property
    def stars_label(self) -> str:
        return STAR_LABELS[self.stars] if self.stars else "未评定"

    @property
    def renormalised(self) -> bool:
        """Some weighted criterion did not apply, so the others' shares were scaled up."""
        return any(p.weight > 0 and not p.counted for p in self.parts)


def weights(settings: Settings) -> dict[str, int]:
    """Each criterion's configured weight, in the order shown."""
    return {name: getattr(settings.assessment, f"weight_{name}") for name in ASSESSMENT_CRITERIA}


def stars_of(score: float | None, settings: Settings) -> int | None:
    """The star band of a score: 5 at or above five_stars, and so on; 1 below two_stars."""
    if score is None:
        return None
    for stars, band in zip((5, 4, 3, 2), STAR_BANDS, strict=True):
        if score >= getattr(settings.assessment, band):
            return stars
    return 1


def shares_of(configured: dict[str, int], applicable: Iterable[str]) -> dict[str, float]:
    """Each counted criterion's share of 100 (weight > 0 and applicable): its weight over the
    counted weights' sum, in the order shown."""
    found = set(applicable)
    counted = {k: w for k, w in configured.items() if w > 0 and k in found}
    total = sum(counted.values())
    return {k: 100 * w / total for k, w in counted.items()}


def score_of(shares: dict[str, float], rates: dict[str, float]) -> float | None:
    """The score, one decimal: Σ share × rate over the counted criteria in the order shown
    (None: nothing counts). The breakdown and the ranking's lean read both score here, so a
    branch's place is always that of its shown score."""
    if not shares:
        return None
    score = 0.0
    for key, share in shares.items():
        score += share * rates[key]
    return round(score, 1)


def score_branch(
    branch_id: int,
    name: str,
    month: date,
    figures: dict[str, Measure] | None,
    settings: Settings,
) -> Score:
    """The score of one branch's month from its figures (None: the branch was not judged)."""
    configured = weights(settings)
    measures: dict[str, Measure] = {}
    for key in configured:
        found = (figures or {}).get(key)
        measures[key] = found or Measure(0, 0, NOT_JUDGED if figures is None else NO_DATA)
    shares = shares_of(configured, (k for k, m in measures.items() if m.applies))
    rates = {key: measures[key].rate or 0.0 for key in shares}
    parts = []
    for key, weight in configured.items():
        share = shares.get(key)
        points = share * rates[key] if share is not None else None
        parts.append(Part(key, LABELS[key], weight, measures[key], share, points))
    final = score_of(shares, rates)
    return Score(
        branch_id, name, month, figures is not None, parts, final, stars_of(final, settings)
    )


def place(mine: float | None, scores: Iterable[float]) -> int | None:
    """A score's competition rank among the scores (its own included): 1 + those above it."""
    if mine is None:
        return None
    return 1 + sum(1 for other in scores if other > mine)


def ranked(scores: list[Score]) -> list[Score]:
    """Scores best first with competition ranks; branches without a score last, unranked,
    by name."""
    scored = sorted(
        (s for s in scores if s.score is not None), key=lambda s: (-s.score, s.branch_id)
    )
    out: list[Score] = []
    for index, item in enumerate(scored):
        same = out and out[-1].score == item.score
        rank = out[-1].rank if same else index + 1
        out.append(replace(item, rank=rank))
    unscored = sorted((s for s in scores if s.score is None), key=lambda s: s.branch_id)
    return out + unscored
