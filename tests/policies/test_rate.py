"""`TokenBucket` taking several tokens at once, and settling corrections afterwards."""

from __future__ import annotations

import pytest

from reagents.policies import TokenBucket


def test_several_tokens_are_taken_at_once_or_waited_for() -> None:
    bucket = TokenBucket.refilling(10.0, 20.0, now=0.0)
    assert bucket.capacity == 20.0
    assert bucket.take(0.0, 15) == 0.0
    assert bucket.wait(0.0, 10) == pytest.approx(0.5)
    assert bucket.take(0.0, 10) == pytest.approx(0.5)  # nothing taken
    assert bucket.level(0.0) == pytest.approx(5.0)
    assert bucket.take(0.5, 10) == 0.0


def test_more_than_the_bucket_waits_for_a_full_bucket_and_leaves_a_debt() -> None:
    bucket = TokenBucket.refilling(10.0, 20.0, now=0.0)
    bucket.take(0.0, 5)
    assert bucket.take(0.0, 50) == pytest.approx(0.5)  # until the bucket is full
    assert bucket.take(0.5, 50) == 0.0
    assert bucket.level(0.5) == pytest.approx(-30.0)
    assert bucket.wait(0.5) == pytest.approx(3.1)  # the debt, then one token


def test_charge_takes_into_debt_and_refunds_up_to_the_capacity() -> None:
    bucket = TokenBucket.refilling(1.0, 4.0, now=0.0)
    bucket.charge(0.0, 6)
    assert bucket.level(0.0) == pytest.approx(-2.0)
    bucket.charge(1.0, -100)
    assert bucket.level(1.0) == 4.0


def test_a_bucket_needs_a_positive_refill_and_capacity() -> None:
    with pytest.raises(ValueError, match=r"positive refill and capacity, got 0\.0/s and 1\.0"):
        TokenBucket.refilling(0.0, 1.0, now=0.0)
    with pytest.raises(ValueError, match="positive refill and capacity"):
        TokenBucket.refilling(1.0, -1.0, now=0.0)
