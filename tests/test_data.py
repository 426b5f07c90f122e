"""Tests of hecate_edge.data: determinism of the built-in corpora, the text
split and the structure of the key-value recall episodes."""

import re

import numpy as np
import pytest

from hecate_edge import data

EPISODE = re.compile(rb"^((?:[a-z]+:[0-9]+ )+)\|((?:[a-z]+\?[0-9]+ ?)+)$")


def test_text_split_is_deterministic_and_byte_valued():
    train_a, held_a = data.text_split()
    train_b, held_b = data.text_split()
    assert np.array_equal(train_a, train_b) and np.array_equal(held_a, held_b)
    for arr in (train_a, held_a):
        assert arr.dtype == np.uint32 and arr.ndim == 1
        assert arr.max() < 256
    share = held_a.size / (train_a.size + held_a.size)
    assert 0.07 < share < 0.13


def test_text_split_keeps_documents_whole_and_disjoint():
    train, held = data.text_split()
    docs = data.text_documents()
    total = sum(len(body) for _, body in docs)
    # n documents joined with n - 1 newlines, split in two streams.
    assert train.size + held.size == total + len(docs) - 2
    held_bytes = held.astype(np.uint8).tobytes()
    train_bytes = train.astype(np.uint8).tobytes()
    in_held = [body in held_bytes for _, body in docs if len(body) > 2000]
    in_train = [body in train_bytes for _, body in docs if len(body) > 2000]
    assert all(a != b for a, b in zip(in_held, in_train))


def test_text_split_rejects_bad_fraction():
    with pytest.raises(ValueError):
        data.text_split(heldout_fraction=1.0)


def test_recall_is_deterministic_in_seed():
    a = data.recall_episodes(50, seed=3)
    b = data.recall_episodes(50, seed=3)
    c = data.recall_episodes(50, seed=4)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.tokens, c.tokens)


@pytest.mark.parametrize("shape", [{}, {"n_pairs": 9, "key_len": 1, "value_len": 3, "n_queries": 3}])
def test_recall_episode_structure_and_mask(shape):
    corpus = data.recall_episodes(200, seed=7, **shape)
    key_len = shape.get("key_len", 2)
    value_len = shape.get("value_len", 2)
    n_pairs = shape.get("n_pairs", 6)
    n_queries = shape.get("n_queries", 2)
    min_gap = 16
    raw = corpus.tokens.astype(np.uint8).tobytes()
    assert corpus.tokens.dtype == np.uint32 and corpus.mask.dtype == bool
    assert corpus.mask.shape == corpus.tokens.shape
    lines = raw.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 201
    offset = 0
    for index, line in enumerate(lines[:-1]):
        assert corpus.starts[index] == offset
        m = EPISODE.match(line)
        assert m, line
        pairs = [p.split(b":") for p in m.group(1).split()]
        queries = [q.split(b"?") for q in m.group(2).split()]
        assert len(pairs) == n_pairs and len(queries) == n_queries
        keys = [k for k, _ in pairs]
        assert len(set(keys)) == n_pairs
        assert all(len(k) == key_len and len(v) == value_len for k, v in pairs)
        stored = dict(pairs)
        assert len({k for k, _ in queries}) == n_queries
        separator = line.index(b"|")
        expected_mask = np.zeros(len(line) + 1, bool)
        for key, value in queries:
            assert stored[key] == value
            pair_end = line.index(key + b":") + key_len + value_len  # last value byte
            assert separator - pair_end >= min_gap
            at = line.index(key + b"?", separator) + key_len + 1
            expected_mask[at : at + value_len] = True
        got = corpus.mask[offset : offset + len(line) + 1]
        assert np.array_equal(got, expected_mask)
        offset += len(line) + 1
    assert corpus.mask.sum() == 200 * n_queries * value_len


def test_recall_rejects_impossible_gap():
    with pytest.raises(ValueError):
        data.recall_episodes(1, seed=0, n_pairs=3, min_gap=16)


def test_load_corpus_splits_differ_and_repeat():
    train = data.load_corpus("recall", "train", seed=1)
    held = data.load_corpus("recall", "heldout", seed=1)
    again = data.load_corpus("recall", "heldout", seed=1)
    assert np.array_equal(held.tokens, again.tokens)
    assert not np.array_equal(train.tokens[: held.tokens.size], held.tokens)
    assert len(train.starts) == 4000 and len(held.starts) == 200
    text = data.load_corpus("text", "heldout")
    assert text.mask is None and text.starts is None
    with pytest.raises(ValueError):
        data.load_corpus("images", "train")
    with pytest.raises(ValueError):
        data.load_corpus("text", "test")
