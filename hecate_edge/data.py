"""Built-in training and evaluation data that needs no download.

Owns the byte-level corpora used by training, evaluation and the demo: English
technical text from CPython's ``pydoc_data.topics`` and a synthetic key-value
recall task. Tokens are bytes (vocab 256, MATH §1) held as numpy ``uint32``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("text", "recall")
SPLITS = ("train", "heldout")

_KEY_ALPHABET = b"abcdefghijklmnopqrstuvwxyz"
_VALUE_ALPHABET = b"0123456789"


@dataclass(frozen=True)
class Corpus:
    """A token stream with optional recall mask and allowed chunk starts.

    tokens: uint32 array of byte values (0..255).
    mask:   bool array aligned with ``tokens`` (``mask[i]`` is True when byte
            ``i`` is a recalled value byte, i.e. predicting it needs memory),
            or None when no position is special.
    starts: int64 array of positions where a training chunk may begin (the
            start of each recall episode), or None for "anywhere".
    """

    name: str
    tokens: np.ndarray
    mask: np.ndarray | None = None
    starts: np.ndarray | None = None


def text_documents() -> list[tuple[str, bytes]]:
    """The ``pydoc_data.topics`` help pages as ``(topic, utf-8 bytes)``, sorted by topic.

    The contents come with the running Python, so they are deterministic for
    one Python version (and change slightly between versions).
    """
    from pydoc_data.topics import topics

    return [(name, topics[name].encode("utf-8")) for name in sorted(topics)]


def text_split(heldout_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split the pydoc topics into ``(train, heldout)`` uint32 byte arrays.

    Whole documents go to one split. Walking the documents in sorted-topic
    order, a document goes to held-out when taking it brings the held-out
    bytes closer to ``heldout_fraction`` of all bytes seen (half of it fits
    under the target), otherwise to train; this keeps the held-out share near the fraction and spreads it
    over the alphabet, so both splits cover the same kinds of pages. Within a
    split the documents are joined with a single ``b"\\n"``.
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError("heldout_fraction must be in (0, 1)")
    train, heldout = [], []
    seen = held = 0
    for _, body in text_documents():
        seen += len(body)
        if held + len(body) / 2 <= heldout_fraction * seen:
            heldout.append(body)
            held += len(body)
        else:
            train.append(body)
    return _bytes_to_tokens(b"\n".join(train)), _bytes_to_tokens(b"\n".join(heldout))


def recall_episodes(
    n_episodes: int,
    seed: int,
    n_pairs: int = 6,
    key_len: int = 2,
    value_len: int = 2,
    n_queries: int = 2,
    min_gap: int = 16,
) -> Corpus:
    """Synthetic key-value recall: a stream of episodes, one per line.

    One episode (bytes)::

        "qa:41 xm:07 kd:93 tp:28 fz:55 hc:60 |xm?07 qa?41\\n"

    ``n_pairs`` pairs ``key:value`` separated by spaces (keys: random strings of ``key_len``
    lowercase letters, distinct within an episode; values: ``value_len``
    random digits), then ``" |"``, then ``n_queries`` queries
    ``key?value`` separated by spaces, then a newline. Every query asks for a
    distinct pair whose value ends at least ``min_gap`` bytes before the
    ``"|"``, so with an attention window of ``min_gap`` or less the stored
    pair is out of attention's reach when the answer is predicted: only the
    memory can carry it. The ``mask`` marks the value bytes of the queries
    (the recalled bytes); loss and accuracy are reported on them separately.
    ``starts`` holds each episode's first position. Deterministic in
    ``seed`` and the shape arguments.
    """
    if n_pairs < 1 or key_len < 1 or value_len < 1 or n_queries < 1 or min_gap < 0:
        raise ValueError("recall episode shape arguments must be positive")
    if len(_KEY_ALPHABET) ** key_len < n_pairs:
        raise ValueError("too few distinct keys for n_pairs")
    pair_bytes = key_len + 1 + value_len
    separator = n_pairs * (pair_bytes + 1)  # index of "|" after "pair pair ... pair "
    eligible = [i for i in range(n_pairs) if separator - (i * (pair_bytes + 1) + pair_bytes - 1) >= min_gap]
    if len(eligible) < n_queries:
        raise ValueError(
            f"only {len(eligible)} pairs lie min_gap={min_gap} before the queries; "
            f"raise n_pairs or lower n_queries / min_gap"
        )
    rng = np.random.default_rng(seed)
    keys_alpha = np.frombuffer(_KEY_ALPHABET, dtype=np.uint8)
    values_alpha = np.frombuffer(_VALUE_ALPHABET, dtype=np.uint8)
    out = bytearray()
    mask: list[bool] = []
    starts = []
    for _ in range(n_episodes):
        starts.append(len(out))
        keys: list[bytes] = []
        while len(keys) < n_pairs:
            key = bytes(rng.choice(keys_alpha, key_len))
            if key not in keys:
                keys.append(key)
        values = [bytes(rng.choice(values_alpha, value_len)) for _ in range(n_pairs)]
        episode = bytearray(b" ".join(k + b":" + v for k, v in zip(keys, values)) + b" |")
        recall = [False] * len(episode)
        for j, pair in enumerate(rng.choice(eligible, n_queries, replace=False)):
            query = keys[pair] + b"?"
            if j:
                query = b" " + query
            episode += query + values[pair]
            recall += [False] * len(query) + [True] * value_len
        episode += b"\n"
        recall.append(False)
        out += episode
        mask += recall
    return Corpus(
        name="recall",
        tokens=_bytes_to_tokens(bytes(out)),
        mask=np.array(mask, dtype=bool),
        starts=np.array(starts, dtype=np.int64),
    )


def load_corpus(kind: str, split: str, seed: int = 0) -> Corpus:
    """The built-in corpus ``kind`` ("text" or "recall") for ``split`` ("train" or "heldout").

    Text: :func:`text_split` (independent of ``seed``). Recall: 4000 training
    or 200 held-out episodes of the default shape, drawn from distinct seed
    streams derived from ``seed`` so the splits never share a generator.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r}; expected one of {KINDS}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if kind == "text":
        train, heldout = text_split()
        return Corpus(name="text", tokens=train if split == "train" else heldout)
    split_id = SPLITS.index(split)
    stream = int(np.random.SeedSequence([seed, split_id]).generate_state(1)[0])
    return recall_episodes(4000 if split == "train" else 200, seed=stream)


def _bytes_to_tokens(data: bytes) -> np.ndarray:
    """Bytes as a uint32 token array."""
    return np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
