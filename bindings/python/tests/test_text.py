"""recur.text: the byte-level tokenizer and its incremental, UTF-8-safe decoder."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recur import text


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_round_trip(s):
    ids = text.encode(s.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    assert ids.dtype == np.int32 and ((ids >= 0) & (ids < text.VOCAB_SIZE)).all()
    assert text.decode(ids) == bytes(ids.astype(np.uint8)).decode("utf-8")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), st.lists(st.integers(1, 7), max_size=40))
@settings(max_examples=300, deadline=None)
def test_streaming_never_splits_a_character(s, cuts):
    """Fed in arbitrary pieces (one token at a time included), the decoder returns only whole
    characters, no replacement characters for valid text, and the pieces join to the text."""
    ids = text.encode(s)
    d = text.Decoder()
    pieces, i, k = [], 0, 0
    while i < len(ids):
        n = cuts[k % len(cuts)] if cuts else 1
        pieces.append(d.feed(ids[i:i + n]))
        i += n
        k += 1
    pieces.append(d.flush())
    assert "".join(pieces) == s
    assert all("\ufffd" not in p for p in pieces)
    one = text.Decoder()
    assert "".join(one.feed(int(t)) for t in ids) + one.flush() == s


@given(st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_any_bytes_decode_without_raising(b):
    """A model can generate any byte: invalid UTF-8 becomes U+FFFD, as bytes.decode(replace)."""
    ids = np.frombuffer(b, np.uint8).astype(np.int32)
    d = text.Decoder()
    streamed = "".join(d.feed(int(t)) for t in ids) + d.flush()
    assert streamed == b.decode("utf-8", "replace") == text.decode(ids)


def test_partial_character_is_held_then_flushed():
    d = text.Decoder()
    euro = text.encode("€")  # 3 bytes
    assert d.feed(euro[0]) == "" and d.feed(euro[1]) == ""
    assert d.feed(euro[2]) == "€"
    assert d.feed(euro[:2]) == ""
    assert d.flush() == "\ufffd"        # cut off at the end of the stream
    assert d.feed(text.encode("a")) == "a"  # and the decoder starts afresh


def test_out_of_range_tokens_are_refused():
    for bad in ([256], [-1], [65, 300]):
        with pytest.raises(ValueError, match="byte vocabulary"):
            text.decode(bad)
        with pytest.raises(ValueError):
            text.Decoder().feed(bad)
    with pytest.raises(ValueError):
        text.decode([1.5])
    with pytest.raises(TypeError):
        text.encode(3)
    assert text.decode([]) == "" and text.encode(b"\xff").tolist() == [255]
