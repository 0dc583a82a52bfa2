"""NPS arithmetic (design §5). Every number the product shows comes from here.

- promoter 9–10, passive 7–8, detractor 0–6;
- NPS = 100 × (promoters − detractors) / responses, an integer rounded half away
  from zero; percentages to one decimal; no responses → no NPS (None), never 0;
- 95 % margin of error = 196 × sqrt((p + d − (p − d)²) / n), p and d the shares.

Below MIN_SAMPLE responses the margin of error is still computed (the API returns it
as it is) but the pages show "few answers (n = …)" instead, and no difference is
called significant: the formula is the normal approximation, which needs a sample of
about 30, and it gives 0 whenever every answer falls in one category.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cached_property

PROMOTER = "promoter"
PASSIVE = "passive"
DETRACTOR = "detractor"

# The usual rule of thumb for the normal approximation behind the margin of error.
MIN_SAMPLE = 30


def category(score: int) -> str:
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 10:
        raise ValueError(f"score must be an integer from 0 to 10, got {score!r}")
    if score >= 9:
        return PROMOTER
    if score >= 7:
        return PASSIVE
    return DETRACTOR


def round_half_away(value: Fraction | float, places: int = 0) -> Decimal:
    """Round half away from zero (Python's round() rounds half to even)."""
    exp = Decimal(1).scaleb(-places)
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(value)
    return exact.quantize(exp, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Counts:
    """Responses per category. The derived figures are computed once per instance
    (cached_property writes the instance's __dict__, which frozen allows): a dashboard
    reads each of them several times per touchpoint."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.promoters + other.promoters,
            self.passives + other.passives,
            self.detractors + other.detractors,
        )

    @classmethod
    def from_scores(cls, scores) -> Counts:
        p = pa = d = 0
        for s in scores:
            c = category(s)
            if c == PROMOTER:
                p += 1
            elif c == PASSIVE:
                pa += 1
            else:
                d += 1
        return cls(p, pa, d)

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @cached_property
    def nps(self) -> int | None:
        if not self.total:
            return None
        return int(round_half_away(Fraction(100 * (self.promoters - self.detractors), self.total)))

    def percent(self, part: int) -> Decimal | None:
        if not self.total:
            return None
        return round_half_away(Fraction(100 * part, self.total), 1)

    @cached_property
    def promoter_percent(self) -> Decimal | None:
        return self.percent(self.promoters)

    @cached_property
    def passive_percent(self) -> Decimal | None:
        return self.percent(self.passives)

    @cached_property
    def detractor_percent(self) -> Decimal | None:
        return self.percent(self.detractors)

    @property
    def small_sample(self) -> bool:
        """Too few responses (fewer than MIN_SAMPLE, none included) for the margin of
        error to mean anything: shown as "few answers", never significant."""
        return self.total < MIN_SAMPLE

    @cached_property
    def margin_of_error(self) -> Decimal | None:
        """95 % margin of error in NPS points, one decimal; None without responses."""
        n = self.total
        if not n:
            return None
        p = Fraction(self.promoters, n)
        d = Fraction(self.detractors, n)
        variance = p + d - (p - d) ** 2
        return round_half_away(196 * math.sqrt(variance / n), 1)

    def as_dict(self) -> dict:
        def num(x):
            return None if x is None else float(x)

        return {
            "nps": self.nps,
            "responses": self.total,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "promoter_percent": num(self.promoter_percent),
            "passive_percent": num(self.passive_percent),
            "detractor_percent": num(self.detractor_percent),
            "margin_of_error": num(self.margin_of_error),
            "small_sample": self.small_sample,
        }


def change(current: Counts, previous: Counts) -> int | None:
    """NPS points gained since the previous period; None if either has no NPS."""
    if current.nps is None or previous.nps is None:
        return None
    return current.nps - previous.nps


def significant(difference: int | None, *samples: Counts) -> bool:
    """Whether a difference in NPS points is larger than its 95 % margin of error: the
    margins of the samples it compares (one for a fixed target, two for two periods)
    added in quadrature. Never when a sample is below MIN_SAMPLE, so a change on a
    handful of answers is not coloured as news."""
    if difference is None or not samples or any(s.small_sample for s in samples):
        return False
    return abs(difference) > math.sqrt(sum(float(s.margin_of_error) ** 2 for s in samples))
