"""Workers' lines to their master: bounded chunks in order, what a worker could not hold
dropped and counted, and what never arrived counted from the numbers alone."""

from __future__ import annotations

from harness.fleet.stream import Inbox, Outbox


def _lines(count: int, size: int = 10) -> list[bytes]:
    return [f"{index:0{size - 1}d}\n".encode() for index in range(count)]


def _inbox() -> tuple[Inbox, dict[str, list[bytes]]]:
    written: dict[str, list[bytes]] = {"transcript": [], "conversations": []}
    return Inbox({kind: lines.append for kind, lines in written.items()}), written


def test_chunks_are_bounded_numbered_and_carry_every_line_once_in_order():
    outbox = Outbox()
    for line in _lines(25):
        outbox.channel("transcript").write(line)
    outbox.channel("conversations").write(b"verdict\n")
    inbox, written = _inbox()
    chunks = []
    while (chunk := outbox.take_chunk(max_lines=10)) is not None:
        chunks.append(chunk)
        inbox.receive("w1", chunk)
    assert [c["seq"] for c in chunks] == [1, 2, 3]
    assert [sum(map(len, c["lines"].values())) for c in chunks] == [10, 10, 6]
    assert written["transcript"] == _lines(25) and written["conversations"] == [b"verdict\n"]
    report = inbox.to_report()["w1"]
    assert report["lines_received"] == 26 and report["lines_lost_in_transit"] == 0


def test_a_chunk_never_exceeds_its_byte_bound_unless_one_line_does():
    outbox = Outbox()
    for line in _lines(5, size=100):
        outbox.put("transcript", line)
    outbox.put("transcript", b"x" * 1000 + b"\n")
    sizes = []
    while (chunk := outbox.take_chunk(max_bytes=250)) is not None:
        sizes.append(sum(len(line) for line in chunk["lines"]["transcript"]))
    assert sizes == [200, 200, 100, 1001]


def test_a_full_outbox_drops_the_newest_lines_counts_them_and_says_so_once():
    said = []
    outbox = Outbox(limit_bytes=50, on_first_drop=lambda: said.append(1))
    for line in _lines(8):
        outbox.put("transcript", line)
    assert outbox.pending == 5 and outbox.dropped["transcript"] == 3 and said == [1]
    chunk = outbox.take_chunk(final=True)
    assert chunk["dropped"] == {"transcript": 3} and chunk["final"]
    inbox, _ = _inbox()
    inbox.receive("w1", chunk)
    assert inbox.to_report()["w1"]["lines_dropped_by_worker"] == 3


def test_a_chunk_missing_from_the_sequence_is_counted_with_its_lines():
    outbox = Outbox()
    chunks = []
    for line in _lines(30):
        outbox.put("transcript", line)
        if outbox.pending == 10:
            chunks.append(outbox.take_chunk())
    chunks.append(outbox.take_chunk(final=True))
    inbox, written = _inbox()
    # ZeroMQ keeps order on a connection: a later chunk first means the one before is lost
    for chunk in (chunks[0], chunks[2], chunks[1], chunks[3]):
        inbox.receive("w1", chunk)
    report = inbox.to_report()["w1"]
    assert report["chunks_missed"] == 1 and report["lines_lost_in_transit"] == 10
    assert len(written["transcript"]) == 20 and report["final_received"]


def test_a_chunk_received_twice_is_written_once():
    outbox = Outbox()
    outbox.put("transcript", b"once\n")
    chunk = outbox.take_chunk()
    inbox, written = _inbox()
    inbox.receive("w1", chunk)
    inbox.receive("w1", chunk)
    assert written["transcript"] == [b"once\n"]


def test_an_empty_final_chunk_still_closes_the_worker():
    outbox = Outbox()
    assert outbox.take_chunk() is None
    final = outbox.take_chunk(final=True)
    assert final is not None and final["final"] and final["lines"] == {}


def test_a_chunk_of_another_test_is_not_mixed_into_this_ones():
    earlier = Outbox(run_id="test-1")
    earlier.put("transcript", b"from the first test\n")
    written: list[bytes] = []
    inbox = Inbox({"transcript": written.append}, run_id="test-2")
    chunk = earlier.take_chunk()
    assert not inbox.accepts(chunk)
    inbox.receive("w1", chunk)
    assert written == [] and inbox.to_report() == {}
