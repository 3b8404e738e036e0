"""Character vocabulary, UTF-8 loading, contiguous split and truncated-BPTT streams."""

import numpy as np
import pytest

from bptt.data import (
    Vocabulary,
    count_stream_batches,
    load_text,
    split_text,
    split_text_three_ways,
    stream_batches,
)

TEXT = "hello, wörld! ünïcode → ok\nsecond line\n"


def test_vocabulary_is_sorted_and_roundtrips():
    vocab = Vocabulary.from_text(TEXT)
    assert list(vocab.chars) == sorted(set(TEXT)) and len(vocab) == len(set(TEXT))
    ids = vocab.encode(TEXT)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXT),)
    assert ids.min() >= 0 and ids.max() < len(vocab)
    assert vocab.decode(ids) == TEXT
    assert vocab.encode("l")[0] == vocab.chars.index("l")
    assert vocab.decode(ids.reshape(1, -1)) == TEXT


def test_vocabulary_json_roundtrip_keeps_ids():
    vocab = Vocabulary.from_text(TEXT)
    again = Vocabulary.from_json(vocab.to_json())
    assert again == vocab
    np.testing.assert_array_equal(again.encode(TEXT), vocab.encode(TEXT))
    with pytest.raises(ValueError, match="chars"):
        Vocabulary.from_json('{"letters": "abc"}')
    with pytest.raises(ValueError, match="sorted"):
        Vocabulary.from_json('{"chars": "ba"}')


def test_unknown_character_is_a_clear_error():
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"unknown: 'd', 'z'.*first at index 2"):
        vocab.encode("abdzz")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        vocab.decode(np.array([0, 3]))


def test_load_text_reads_utf8_exactly(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("a\r\nβ\n".encode())
    assert load_text(path) == "a\r\nβ\n"  # no newline translation


def test_load_text_rejects_invalid_utf8_naming_the_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8") as e:
        load_text(path)
    assert str(path) in str(e.value) and "byte offset 3" in str(e.value)


def test_split_text_is_contiguous():
    ids = np.arange(1000, dtype=np.int64)
    train, val = split_text(ids)
    np.testing.assert_array_equal(train, ids[:900])
    np.testing.assert_array_equal(val, ids[900:])
    train, val = split_text(ids, validation_fraction=0.25)
    assert len(train) == 750 and val[0] == 750
    with pytest.raises(ValueError, match="validation_fraction"):
        split_text(ids, validation_fraction=1.0)
    with pytest.raises(ValueError, match="non-empty train and validation part at"):
        split_text(ids[:3], validation_fraction=0.1)


@pytest.mark.parametrize("n_ids, N, T", [(1000, 4, 7), (101, 5, 3), (64, 1, 63), (37, 3, 2)])
def test_stream_batches_shapes_count_and_shift(n_ids, N, T):
    ids = np.random.default_rng(n_ids).integers(0, 50, n_ids)
    batches = list(stream_batches(ids, N, T))
    L = n_ids // N
    assert len(batches) == count_stream_batches(n_ids, N, T) == (L - 1) // T
    for inputs, targets in batches:
        assert inputs.shape == targets.shape == (T, N)
        assert inputs.dtype == targets.dtype == np.int64
        np.testing.assert_array_equal(inputs[1:], targets[:-1])  # targets are the next ids


def test_stream_batches_continue_each_stream_exactly():
    n_ids, N, T = 503, 4, 6
    ids = np.arange(n_ids, dtype=np.int64)  # each id is its own position in the text
    L = n_ids // N
    batches = list(stream_batches(ids, N, T))
    for n in range(N):
        assert batches[0][0][0, n] == n * L  # stream n starts at part n
    for (inp, tgt), (next_inp, _) in zip(batches, batches[1:]):
        for n in range(N):
            # in the text, the last input of stream n is followed by its next batch's first input
            assert next_inp[0, n] == inp[-1, n] + 1
            assert next_inp[0, n] == tgt[-1, n]
    # with a real (non-arange) text: concatenating a stream's inputs gives back part n
    text = np.random.default_rng(0).integers(0, 30, n_ids)
    stream = np.concatenate([inp for inp, _ in stream_batches(text, N, T)], axis=0)  # (B*T, N)
    for n in range(N):
        np.testing.assert_array_equal(stream[:, n], text[n * L : n * L + len(stream)])


def test_stream_batches_argument_errors():
    ids = np.arange(20)
    with pytest.raises(ValueError, match=r"at least batch_size \* \(seq_len \+ 1\) = 24"):
        stream_batches(ids, 4, 5)
    with pytest.raises(ValueError, match="batch_size"):
        stream_batches(ids, 0, 5)
    with pytest.raises(ValueError, match="seq_len"):
        stream_batches(ids, 2, -1)
    with pytest.raises(TypeError, match="integer"):
        stream_batches(ids.astype(np.float32), 2, 3)
    with pytest.raises(ValueError, match="1-D"):
        stream_batches(ids.reshape(4, 5), 2, 3)


def test_split_text_three_ways_is_contiguous_and_disjoint():
    ids = np.arange(1000, dtype=np.int64)  # each id is its position: disjoint ids, disjoint text
    train, val, test = split_text_three_ways(ids, 0.1, 0.1)
    np.testing.assert_array_equal(np.concatenate([train, val, test]), ids)
    assert (len(train), len(val), len(test)) == (800, 100, 100)
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    with pytest.raises(ValueError, match="test_fraction"):
        split_text_three_ways(ids, 0.1, 1.0)
    with pytest.raises(ValueError, match="non-empty train, validation and test part at"):
        split_text_three_ways(ids[:5], 0.1, 0.1)


def test_stream_batches_keep_partial_yields_the_rest_as_get_batch():
    n_ids, N, T = 103, 2, 10  # L = 51: 50 steps, seven windows of 7 and one of 1
    ids = np.arange(n_ids, dtype=np.int64)
    L = n_ids // N
    data = ids[: N * L].reshape(N, L).T  # (L, N), batchify's layout
    full = list(stream_batches(ids, N, 7))
    kept = list(stream_batches(ids, N, 7, keep_partial=True))
    assert len(kept) == count_stream_batches(n_ids, N, 7, keep_partial=True) == len(full) + 1
    # PyTorch's get_batch: for i in range(0, L - 1, bptt): seq_len = min(bptt, L - 1 - i)
    expected = []
    for i in range(0, L - 1, 7):
        t = min(7, L - 1 - i)
        expected.append((data[i : i + t], data[i + 1 : i + 1 + t]))
    assert len(expected) == len(kept)
    for (inp, tgt), (e_inp, e_tgt) in zip(kept, expected):
        np.testing.assert_array_equal(inp, e_inp)
        np.testing.assert_array_equal(tgt, e_tgt)
    assert kept[-1][0].shape == ((L - 1) % 7, N)
    # an exact fit has no partial window
    assert len(list(stream_batches(ids[: 2 * (3 * T + 1)], N, T, keep_partial=True))) == 3
