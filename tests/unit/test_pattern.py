import itertools

import pytest

from harness.scenario.pattern import Step, Turn, format_pattern, iter_turns, parse_pattern


def take(steps, n):
    return list(itertools.islice(iter_turns(steps), n))


def test_parses_text_and_list_forms_alike():
    text = parse_pattern("C3 A1 C2 A1")
    assert text == (Step("C", 3), Step("A", 1), Step("C", 2), Step("A", 1))
    assert parse_pattern([["C", 3], ["A", 1], ["C", 2], ["A", 1]]) == text
    assert format_pattern(text) == "C3 A1 C2 A1"


def test_open_counts_and_default_alternation():
    assert parse_pattern("C A2") == (Step("C", None), Step("A", 2))
    assert parse_pattern(None) == (Step("C"), Step("A"))


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("A1 C1", "must start with the client"),
        ("C3 C1", "no agent step"),
        ("C3 X1", "bad pattern step 'X1'"),
        ("C0 A1", "at least 1"),
        ("", "empty"),
        ([["C", "three"]], "bad pattern step"),
    ],
)
def test_rejects_bad_patterns_with_the_reason(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_pattern(value)


def test_turns_cycle_and_keep_each_thought():
    turns = take(parse_pattern("C3 A1 C2 A1"), 4)
    assert turns == [Turn((3,), 1), Turn((2,), 1), Turn((3,), 1), Turn((2,), 1)]


def test_runs_of_one_speaker_merge_into_one_turn():
    # C1 C2 is one burst sent as two thoughts; A1 A1 is one reply of two messages.
    assert take(parse_pattern("C1 C2 A1 A1"), 2) == [Turn((1, 2), 2), Turn((1, 2), 2)]
    assert take(parse_pattern("C1 C2 A1 C1 A2"), 2) == [Turn((1, 2), 1), Turn((1,), 2)]


def test_trailing_client_steps_join_the_next_cycle():
    assert take(parse_pattern("C1 A1 C2"), 3) == [
        Turn((1,), 1),
        Turn((2, 1), 1),
        Turn((2, 1), 1),
    ]


def test_open_agent_step_makes_the_expected_count_open():
    assert take(parse_pattern("C A2 A"), 1) == [Turn((None,), None)]
