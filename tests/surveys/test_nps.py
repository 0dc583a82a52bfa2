"""NPS arithmetic (design §5) against a direct formula, on every input hypothesis finds."""

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys import nps

scores = st.lists(st.integers(min_value=0, max_value=10), max_size=400)


def direct_nps(values):
    n = len(values)
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    exact = 100 * (promoters - detractors) / n
    # Round half away from zero, computed on integers so no float rounding sneaks in.
    num, den = 100 * (promoters - detractors), n
    q, r = divmod(abs(num), den)
    rounded = q + (1 if 2 * r >= den else 0)
    assert abs(rounded - abs(exact)) <= 0.5 + 1e-9
    return rounded if num >= 0 else -rounded


@given(scores)
def test_nps_equals_the_direct_formula(values):
    counts = nps.Counts.from_scores(values)
    if not values:
        assert counts.nps is None
    else:
        assert counts.nps == direct_nps(values)


@given(scores)
def test_counts_partition_the_responses(values):
    counts = nps.Counts.from_scores(values)
    assert counts.total == len(values)
    assert counts.promoters == sum(1 for s in values if s in (9, 10))
    assert counts.passives == sum(1 for s in values if s in (7, 8))


@given(scores.filter(bool))
def test_nps_is_between_minus_100_and_100(values):
    assert -100 <= nps.Counts.from_scores(values).nps <= 100


@given(scores.filter(bool))
def test_margin_of_error_equals_the_direct_formula(values):
    n = len(values)
    p = sum(1 for s in values if s >= 9) / n
    d = sum(1 for s in values if s <= 6) / n
    expected = 196 * math.sqrt(max(p + d - (p - d) ** 2, 0) / n)
    moe = nps.Counts.from_scores(values).margin_of_error
    assert abs(float(moe) - expected) <= 0.05 + 1e-9


@given(scores.filter(bool))
def test_percentages_have_one_decimal_and_sum_to_about_100(values):
    c = nps.Counts.from_scores(values)
    parts = [c.promoter_percent, c.passive_percent, c.detractor_percent]
    assert all(p.as_tuple().exponent == -1 for p in parts)
    assert abs(sum(parts) - 100) <= Decimal("0.15")


def test_categories_follow_the_0_6_7_8_9_10_split():
    assert [nps.category(s) for s in range(11)] == ["detractor"] * 7 + ["passive"] * 2 + [
        "promoter"
    ] * 2


@pytest.mark.parametrize("bad", [-1, 11, 5.0, "7", None, True])
def test_category_rejects_anything_but_an_integer_0_to_10(bad):
    with pytest.raises(ValueError):
        nps.category(bad)


def test_no_responses_means_no_nps_and_no_margin():
    empty = nps.Counts()
    assert empty.nps is None
    assert empty.margin_of_error is None
    assert empty.promoter_percent is None
    assert empty.as_dict()["nps"] is None


def test_half_rounds_away_from_zero_both_ways():
    # 1 promoter, 7 passives: 12.5 → 13; 1 detractor, 7 passives: −12.5 → −13.
    assert nps.Counts(1, 7, 0).nps == 13
    assert nps.Counts(0, 7, 1).nps == -13
    # 1 promoter of 3: 33.333… → 33.3 %
    assert nps.Counts(1, 2, 0).promoter_percent == Decimal("33.3")


def test_all_promoters_have_no_margin_of_error():
    assert nps.Counts(10, 0, 0).margin_of_error == Decimal("0.0")


# --- small samples: the margin of error is the normal approximation's ----------------------

counts = st.builds(
    nps.Counts,
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=500),
)


def test_fewer_than_thirty_responses_is_a_small_sample():
    assert nps.MIN_SAMPLE == 30
    assert nps.Counts().small_sample  # none at all
    assert nps.Counts(0, 0, 1).small_sample  # one detractor: −100 "± 0.0"
    assert nps.Counts(10, 9, 10).small_sample  # 29
    assert not nps.Counts(10, 10, 10).small_sample  # 30
    assert nps.Counts(4, 0, 0).as_dict()["small_sample"] is True
    assert nps.Counts(40, 0, 0).as_dict()["small_sample"] is False


def test_a_change_on_a_handful_of_answers_is_never_significant():
    # The walkthrough: four promoters (+100 "± 0.0") after a +38 month of 50 answers.
    four_promoters, before = nps.Counts(4, 0, 0), nps.Counts(25, 19, 6)
    assert four_promoters.margin_of_error == Decimal("0.0")
    assert not nps.significant(62, four_promoters, before)
    assert not nps.significant(62, before, four_promoters)
    assert not nps.significant(-200, nps.Counts(0, 0, 1))  # one detractor vs a target
    # The same difference between samples of 40 and 50 answers is.
    assert nps.significant(62, nps.Counts(40, 0, 0), before)


def test_significance_adds_the_margins_in_quadrature():
    a, b = nps.Counts(30, 20, 10), nps.Counts(20, 20, 20)
    both = math.hypot(float(a.margin_of_error), float(b.margin_of_error))
    assert not nps.significant(math.floor(both), a, b)
    assert nps.significant(math.floor(both) + 1, a, b)
    assert nps.significant(-(math.floor(both) + 1), a, b)
    assert not nps.significant(None, a, b)


@given(counts, counts, st.integers(min_value=-200, max_value=200))
def test_a_difference_is_significant_only_beyond_its_margin_and_on_large_samples(a, b, diff):
    expected = (
        a.total >= nps.MIN_SAMPLE
        and b.total >= nps.MIN_SAMPLE
        and abs(diff) > math.sqrt(float(a.margin_of_error) ** 2 + float(b.margin_of_error) ** 2)
    )
    assert nps.significant(diff, a, b) is expected
    if a.small_sample or b.small_sample:
        assert not nps.significant(diff, a, b)
