"""The user's own training data (hecate_edge.sources): paths, folders and globs
read as bytes, small files joined, large ones memory-mapped, held-out tails."""

import numpy as np
import pytest

from hecate_edge import sources
from hecate_edge.data import Corpus


@pytest.fixture
def tree(tmp_path):
    """a.txt, sub/b.txt, sub/deep/c.md, .hidden/x.txt, sub/.dot.txt, empty.txt."""
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.txt").write_bytes(b"alpha\n")
    (tmp_path / "sub" / "b.txt").write_bytes(b"beta\n")
    (tmp_path / "sub" / "deep" / "c.md").write_bytes(b"gamma\xff\n")  # any bytes, not only UTF-8
    (tmp_path / ".hidden" / "x.txt").write_bytes(b"hidden\n")
    (tmp_path / "sub" / ".dot.txt").write_bytes(b"dot\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    return tmp_path


def test_folder_is_walked_recursively_sorted_without_hidden_entries(tree):
    names = [p.relative_to(tree).as_posix() for p in sources.expand_paths([tree])]
    assert names == ["a.txt", "empty.txt", "sub/b.txt", "sub/deep/c.md"]


def test_globs_files_and_duplicates(tree):
    found = sources.expand_paths([str(tree / "**" / "*.txt"), tree / "a.txt"])
    names = [p.relative_to(tree).as_posix() for p in found]
    assert names == ["a.txt", "empty.txt", "sub/b.txt"]  # a.txt once; glob skips dot entries


@pytest.mark.parametrize("pattern", ["missing.txt", "*.nothing"])
def test_a_pattern_matching_nothing_is_named(tree, pattern):
    with pytest.raises(ValueError, match=r"missing\.txt|\*\.nothing"):
        sources.expand_paths([str(tree / pattern)])


def test_small_files_are_joined_in_order_and_empty_ones_skipped(tree):
    (corpus,) = sources.load_files([tree])
    assert bytes(corpus.tokens) == b"alpha\nbeta\ngamma\xff\n"
    assert corpus.tokens.dtype == np.uint8


def test_large_files_are_memory_mapped(tree, monkeypatch):
    monkeypatch.setattr(sources, "MAP_THRESHOLD", 6)
    corpora = sources.load_files([tree])
    mapped = [c for c in corpora if isinstance(c.tokens, np.memmap)]
    assert [bytes(c.tokens) for c in mapped] == [b"alpha\n", b"gamma\xff\n"]
    assert [bytes(c.tokens) for c in corpora if c not in mapped] == [b"beta\n"]


def test_only_empty_files_is_an_error(tmp_path):
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        sources.load_files([tmp_path])


def test_split_tail_holds_out_the_end_of_every_stream():
    a = Corpus("a", np.arange(100, dtype=np.uint8))
    b = Corpus("b", np.arange(10, dtype=np.uint8))
    train, held = sources.split_tail([a, b], 0.2)
    assert [len(c.tokens) for c in train] == [80, 8] and [len(c.tokens) for c in held] == [20, 2]
    np.testing.assert_array_equal(np.concatenate([train[0].tokens, held[0].tokens]), a.tokens)
    assert np.shares_memory(train[0].tokens, a.tokens)  # views, nothing copied
    with pytest.raises(ValueError, match="fraction"):
        sources.split_tail([a], 1.0)


def test_size_weights_follow_chunk_starts():
    corpora = [Corpus("a", np.zeros(100, np.uint8)), Corpus("b", np.zeros(10, np.uint8))]
    assert sources.size_weights(corpora, 20) == [80.0, 0.0]
    with pytest.raises(ValueError, match="too short for --chunk 200"):
        sources.size_weights(corpora, 200)
