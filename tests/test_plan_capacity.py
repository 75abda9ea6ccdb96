"""The --capacity grammar: what it accepts, how names resolve to pools, and its errors."""

from __future__ import annotations

import pandas as pd
import pytest

from dropout.plan.capacity import CapacityError, parse_capacity, resolve_pools

VILLAGES = pd.DataFrame(
    {
        "village_id": ["V1", "V2", "V3", "V4", "V5", "V6"],
        "commune": ["Hong Thai", "Hong Thai", "Hong Kim", "A Ngo", "Huong Phung", "Hong Kim"],
        "district": ["A Luoi", "A Luoi", "A Luoi", "A Luoi", "Huong Hoa", "Huong Hoa"],
    }
)


def test_plain_number_is_hours_for_every_district():
    cap = parse_capacity("30")
    assert cap.default_hours == 30 and cap.entries == ()
    pool, pools = resolve_pools(cap, VILLAGES)
    assert sorted(pools["pool"]) == ["A Luoi", "Huong Hoa"]
    assert set(pools["hours"]) == {30.0}
    assert pool.to_dict() == {"V1": "A Luoi", "V2": "A Luoi", "V3": "A Luoi", "V4": "A Luoi",
                              "V5": "Huong Hoa", "V6": "Huong Hoa"}


@pytest.mark.parametrize("text, hours", [("A Luoi=30", 30.0), ("A Luoi = 12.5h", 12.5), ("district:A Luoi=8", 8.0),
                                         ("a lưới=30", 30.0), ("  A  LUOI=.5 ", 0.5)])
def test_named_district(text, hours):
    pool, pools = resolve_pools(parse_capacity(text), VILLAGES)
    assert pools[["pool", "scope", "hours"]].values.tolist() == [["A Luoi", "district", hours]]
    assert pool.dropna().to_dict() == {"V1": "A Luoi", "V2": "A Luoi", "V3": "A Luoi", "V4": "A Luoi"}


def test_communes_only_those_named_are_planned():
    pool, pools = resolve_pools(parse_capacity("Hong Thai=6,A Ngo=4"), VILLAGES)
    assert dict(zip(pools["pool"], pools["hours"])) == {"A Luoi/Hong Thai": 6.0, "A Luoi/A Ngo": 4.0}
    assert pool.to_dict()["V1"] == "A Luoi/Hong Thai" and pool.to_dict()["V4"] == "A Luoi/A Ngo"
    assert pool[["V3", "V5", "V6"]].isna().all()


def test_pools_do_not_overlap_named_commune_keeps_its_own_hours():
    pool, pools = resolve_pools(parse_capacity("20; A Luoi=30; A Luoi/Hong Thai=6"), VILLAGES)
    assert dict(zip(pools["pool"], pools["hours"])) == {"A Luoi/Hong Thai": 6.0, "A Luoi": 30.0, "Huong Hoa": 20.0}
    assert pool.to_dict() == {"V1": "A Luoi/Hong Thai", "V2": "A Luoi/Hong Thai", "V3": "A Luoi", "V4": "A Luoi",
                              "V5": "Huong Hoa", "V6": "Huong Hoa"}


def test_scaled_by_weeks():
    cap = parse_capacity("10, A Luoi=30").scaled(2)
    assert cap.default_hours == 20 and cap.entries[0].hours == 60


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", 'hours "abc" is not a positive number'),
        ("A Luoi=", 'hours "" is not'),
        ("A Luoi=-3", 'hours "-3" is not'),
        ("A Luoi=0", "more than 0"),
        ("A Luoi=thirty", 'hours "thirty"'),
        ("30,40", "second plain number"),
        ("A Luoi=30,a luoi=20", "given twice"),
        ("A Luoi=30,,Hong Thai=2", "entry 2 is empty"),
        ("=5", "name before \"=\" is empty"),
        ("province:Hue=5", 'unknown prefix "province:"'),
        ("A Luoi=3=4", 'more than one "="'),
        ("district:A Luoi/Hong Thai=3", "names a commune"),
    ],
)
def test_bad_text_is_refused_with_the_entry_named(text, words):
    with pytest.raises(CapacityError) as err:
        parse_capacity(text)
    assert words in str(err.value)


def test_unknown_name_suggests_close_ones():
    with pytest.raises(CapacityError, match=r"no district or commune called \"A Loui\".*did you mean 'A Luoi'"):
        resolve_pools(parse_capacity("A Loui=30"), VILLAGES)
    with pytest.raises(CapacityError, match=r"no district called \"Hong Thai\""):
        resolve_pools(parse_capacity("district:Hong Thai=3"), VILLAGES)
    with pytest.raises(CapacityError, match=r"no commune called \"A Luoi\""):
        resolve_pools(parse_capacity("commune:A Luoi=3"), VILLAGES)


def test_ambiguous_names_need_a_prefix():
    both = pd.concat([VILLAGES, pd.DataFrame({"village_id": ["V7"], "commune": ["A Luoi"], "district": ["A Luoi"]})])
    with pytest.raises(CapacityError, match="both a district and a commune"):
        resolve_pools(parse_capacity("A Luoi=30"), both)
    _, pools = resolve_pools(parse_capacity("commune:A Luoi=3"), both)
    assert pools["pool"].tolist() == ["A Luoi/A Luoi"]
    with pytest.raises(CapacityError, match=r'several districts.*"A Luoi/Hong Kim=..."'):
        resolve_pools(parse_capacity("Hong Kim=3"), VILLAGES)
    _, pools = resolve_pools(parse_capacity("Huong Hoa/Hong Kim=3"), VILLAGES)
    assert pools["pool"].tolist() == ["Huong Hoa/Hong Kim"]
