import pytest

from harness.persona.splitter import split_response_naturally as split


def test_splits_on_sentence_ends():
    assert split("Hi there! How are you? I am fine.", 5) == [
        "Hi there!",
        "How are you?",
        "I am fine.",
    ]
    assert split("Hmm… I am not sure. Ok.", 5) == ["Hmm…", "I am not sure.", "Ok."]


def test_never_inside_urls_or_numbers():
    text = (
        "See https://example.com/a.b?x=1.2 for details. The price is 3.50 USD. Version 2.0.1 works."
    )
    assert split(text, 5) == [
        "See https://example.com/a.b?x=1.2 for details.",
        "The price is 3.50 USD.",
        "Version 2.0.1 works.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "We sell fruit, e.g. apples. And more.",
        "Срок — т.е. неделя. Потом готово.",
        "Фрукты, овощи и т.д. Потом всё остальное.",
        "Фрукты, овощи и т. д. Потом всё остальное.",
        "Call Dr. Smith today. He knows.",
        "Ask J. Smith first. Then me.",
    ],
)
def test_never_after_abbreviations_or_initials(text):
    parts = split(text, 5)
    assert len(parts) == 2, parts
    assert " ".join(parts) == text


def test_numbered_and_bulleted_items_stay_whole():
    text = (
        "Steps:\n1. Open the app. Wait a second.\n2. Tap Help.\n- Bullet one. Still one.\n\nThanks!"
    )
    assert split(text, 10) == [
        "Steps:",
        "1. Open the app. Wait a second.",
        "2. Tap Help.",
        "- Bullet one. Still one.",
        "Thanks!",
    ]


def test_empty_input_gives_no_parts():
    assert split("", 3) == []
    assert split("  \n\n ", 3) == []


def test_merges_evenly_down_to_max_parts_keeping_order():
    text = "One. Two. Three. Four. Five. Six."
    parts = split(text, 2)
    assert parts == ["One. Two. Three.", "Four. Five. Six."]
    assert split(text, 1) == [text]
    long_first = "This first sentence is much longer than all the others. B. C. D."
    assert split(long_first, 2) == [
        "This first sentence is much longer than all the others.",
        "B. C. D.",
    ]


def test_rejects_zero_parts():
    with pytest.raises(ValueError):
        split("Hi.", 0)
