import pytest

from harness.metrics.burst import measure_burst


def burst(acks, arrivals, timed_out=False, quiet=2.0):
    return measure_burst(acks, acks, arrivals, timed_out, quiet)


def test_batched_burst_one_group():
    m = burst([0.0, 1.0, 2.0], [5.0, 5.5, 6.5])
    assert m.premature_messages == 0
    assert m.reply_groups == 1
    assert m.first_reply_ms == pytest.approx(3000)
    assert m.complete_reply_ms == pytest.approx(4500)
    assert m.reply_gaps_ms == pytest.approx((500, 1000))
    assert m.messages_in_reply == 3
    assert m.debounce_evidence.sends == (0.0, 1.0, 2.0)
    assert m.debounce_evidence.reply_starts == (5.0,)  # one reply: gaps under quiet_window
    assert m.debounce_evidence.reaction == pytest.approx(3.0)


def test_premature_replies_counted_per_interval():
    # The agent answers inside the first pause (twice) and again after the last message.
    m = burst([0.0, 10.0, 10.5, 11.0], [3.0, 3.4, 14.0])
    assert m.premature_messages == 2
    assert m.reply_groups == 2
    assert m.debounce_evidence.reply_starts == (3.0, 14.0)
    assert m.debounce_evidence.reaction == pytest.approx(3.0)
    assert m.first_reply_ms == pytest.approx(3000)
    assert m.agent_messages == 3


def test_every_fragment_answered_gives_one_group_per_message():
    m = burst([0.0, 5.0, 10.0], [2.0, 7.0, 12.0])
    assert m.reply_groups == 3
    assert m.premature_messages == 2


def test_timeout_has_no_reply_latency():
    m = burst([0.0], [], timed_out=True)
    assert m.timed_out
    assert m.first_reply_ms is None and m.complete_reply_ms is None
    assert m.reply_groups == 0
    assert m.debounce_evidence is None  # no reply: no evidence


def test_message_at_the_last_send_counts_as_reply():
    m = burst([0.0, 1.0], [1.0])
    assert m.premature_messages == 0
    assert m.first_reply_ms == 0


def test_send_time_is_ack_minus_call():
    m = measure_burst([0.0, 1.0], [0.2, 1.05], [2.0], False, 1.0)
    assert m.send_ms == pytest.approx((200, 50))
    assert m.first_reply_ms == pytest.approx(950)


def test_rejects_an_empty_burst():
    with pytest.raises(ValueError):
        measure_burst([], [], [], False, 1.0)


def test_edits_extend_the_reply_to_the_final_edit_without_counting_as_messages():
    m = measure_burst([0.0], [0.0], [1.0], False, 2.0, edits=[1.5, 2.25])
    assert m.first_reply_ms == pytest.approx(1000)
    assert m.complete_reply_ms == pytest.approx(2250)  # time to the final edit
    assert m.messages_in_reply == 1 and m.edits_in_reply == 2
    assert m.reply_gaps_ms == ()


def test_chat_actions_give_the_wait_for_typing_without_counting_as_messages():
    # typing during the burst (at 0.5), then after the last message (at 1.0): 1.3 and 1.8
    m = measure_burst([0.0, 1.0], [0.0, 1.0], [2.0], False, 1.0, actions=[0.5, 1.3, 1.8])
    assert m.first_action_ms == pytest.approx(300)  # the first after s_n, not the early one
    assert m.actions == 3
    assert m.messages_in_reply == 1 and m.reply_groups == 1 and m.premature_messages == 0
    assert measure_burst([0.0], [0.0], [1.0], False, 1.0).first_action_ms is None
