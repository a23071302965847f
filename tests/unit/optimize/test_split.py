"""The seeded, tag-stratified train / validation / test split."""

from __future__ import annotations

from collections import Counter

import pytest

from promptsuite.errors import ConfigError
from promptsuite.optimize.search import parse_fractions, split_cases
from promptsuite.suite import ResolvedCase


def case(case_id: str, *tags: str) -> ResolvedCase:
    return ResolvedCase(id=case_id, line=1, vars={}, tags=tags, expect=(), threshold=None, repeat=1)


def banking_like(per_tag: int = 4, tags: int = 5) -> list[ResolvedCase]:
    return [
        case(f"t{t}-{n}", "classification", f"t{t}") for t in range(tags) for n in range(per_tag)
    ]


def test_same_seed_same_split_and_case_order_kept():
    cases = banking_like()
    first = split_cases(cases, seed=3)
    assert first == split_cases(cases, seed=3)
    assert list(first) == [c.id for c in cases]


def test_other_seeds_give_other_splits():
    cases = banking_like()
    splits = {tuple(split_cases(cases, seed=s).values()) for s in range(5)}
    assert len(splits) > 1


def test_totals_follow_the_fractions():
    counts = Counter(split_cases(banking_like(), seed=0).values())
    assert counts == {"train": 8, "val": 6, "test": 6}
    counts = Counter(split_cases(banking_like(), seed=0, fractions=(0.5, 0.25, 0.25)).values())
    assert counts == {"train": 10, "val": 5, "test": 5}


@pytest.mark.parametrize("seed", range(10))
def test_every_tag_is_spread_over_the_splits(seed):
    split = split_cases(banking_like(per_tag=6), seed=seed)
    for tag in range(5):
        mine = Counter(split[f"t{tag}-{n}"] for n in range(6))
        # 6 cases at 0.4/0.3/0.3: 2 or 3 train, 1 or 2 each of val and test.
        assert set(mine) == {"train", "val", "test"}
        assert 2 <= mine["train"] <= 3


def test_the_shared_tag_does_not_stratify():
    # Every case carries "classification"; strata come from the distinguishing tag, so a
    # suite where one tag is rare still puts its cases in more than one split.
    cases = [*banking_like(per_tag=6, tags=2), case("rare-1", "classification", "rare")]
    split = split_cases(cases, seed=1)
    for tag in range(2):
        assert len({split[f"t{tag}-{n}"] for n in range(6)}) == 3


def test_untagged_cases_form_one_stratum():
    cases = [case(f"c{n}") for n in range(10)]
    assert Counter(split_cases(cases, seed=0).values()) == {"train": 4, "val": 3, "test": 3}


def test_too_few_cases_is_a_clear_error():
    with pytest.raises(ConfigError, match="2 case"):
        split_cases([case("a"), case("b")], seed=0)


def test_a_split_left_empty_is_refused():
    with pytest.raises(ConfigError, match="empty"):
        split_cases([case(f"c{n}") for n in range(3)], seed=0, fractions=(0.9, 0.05, 0.05))


def test_parse_fractions_normalises():
    assert parse_fractions("2,1,1") == (0.5, 0.25, 0.25)
    for bad in ("0.5,0.5", "a,b,c", "1,0,1", "1,-1,1"):
        with pytest.raises(ConfigError, match="three positive numbers"):
            parse_fractions(bad)
