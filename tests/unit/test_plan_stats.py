import pytest

from chaos.plan.stats import Estimate, _quantile, bootstrap_median


def test_median_and_interval_are_seeded_and_bracket_the_median() -> None:
    values = [3.4, 3.6, 3.5, 4.1, 3.3]
    a = bootstrap_median(values, seed=7)
    b = bootstrap_median(values, seed=7)
    assert a == b, "same runs and seed: the same interval, so reports are reproducible"
    assert a is not None and a.median == 3.5 and a.n == 5
    assert min(values) <= a.low <= a.median <= a.high <= max(values)


def test_one_value_is_its_own_interval_and_none_without_values() -> None:
    assert bootstrap_median([], seed=1) is None
    one = bootstrap_median([2.0], seed=1)
    assert one is not None and (one.low, one.median, one.high, one.n) == (2.0, 2.0, 2.0, 1)


def test_identical_values_have_a_zero_width_interval() -> None:
    e = bootstrap_median([1.0] * 4, seed=3)
    assert e is not None and e.low == e.high == 1.0


@pytest.mark.parametrize(("values", "q", "want"), [
    ([7.0], 0.5, 7.0),
    ([1.0, 3.0], 0.5, 2.0),
    ([0.0, 10.0, 20.0, 40.0], 0.0, 0.0),
    ([0.0, 10.0, 20.0, 40.0], 0.5, 15.0),  # between the 2nd and 3rd value
    ([0.0, 10.0, 20.0, 40.0], 0.9, 34.0),
    ([0.0, 10.0, 20.0, 40.0], 1.0, 40.0),  # the last value, no neighbour beyond it
])
def test_quantile_interpolates_linearly_between_closest_ranks(values: list[float], q: float,
                                                              want: float) -> None:
    assert _quantile(values, q) == pytest.approx(want, abs=1e-12)


def test_two_values_are_resampled_not_taken_as_one() -> None:
    assert bootstrap_median([1.0, 3.0], seed=1) == Estimate(2.0, 1.0, 3.0, 2)


def test_the_interval_is_the_central_95_percent_of_medians_drawn_from_the_seed() -> None:
    """40 resamples of the twelve squares 1..144 with seed 3: sorted, their medians start
    4, 16 and end 81, 121; the interval is read at positions 0.975 and 38.025 of them."""
    e = bootstrap_median([float(i * i) for i in range(1, 13)], seed=3, resamples=40)
    assert e is not None
    assert (e.median, e.low, e.high, e.n) == pytest.approx((42.5, 15.7, 82.0, 12))
