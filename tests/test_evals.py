"""The eval commands run end to end on tiny budgets (their numbers are in
docs/EVALS.md, produced by the same code at real budgets) and their tasks
are what they say."""
import json
import zlib

import numpy as np

from hecate_edge import cli, train
from hecate_edge.config import ModelConfig
from hecate_edge.evals import capacity, longtext, recall


def test_mqar_episode_layout_and_answers():
    ep = recall.episode(np.random.default_rng(0), n_pairs=3, gap=5)
    text = bytes(ep.tokens.astype(np.uint8))
    pairs, rest = text[:6], text[6:]
    assert rest[:5].isdigit() and rest[5:6] == b"|" and text.endswith(b"\n")
    stored = {pairs[i]: pairs[i + 1] for i in range(0, 6, 2)}
    for q in ep.query_positions:  # the byte after each queried key is that key's value
        assert stored[text[q]] == text[q + 1]
    assert len(set(pairs[0::2])) == 3


def test_mqar_episodes_are_pinned():
    """The episodes behind every recall table (docs/EVALS.md) and the demo: a change to the
    generator or its random stream changes these checksums (written at d1912e0's generator)."""
    corpus = recall.training_corpus(3, 50, (4, 8, 16), 32)
    episodes = recall.held_out_episodes(1, 8, 64, 3)
    assert zlib.crc32(corpus.tokens.tobytes() + corpus.mask.tobytes() + corpus.starts.tobytes()) == 87492960
    assert zlib.crc32(b"".join(ep.tokens.tobytes() for ep in episodes)) == 1138965235


def test_eval_recall_writes_its_section_and_plot(tmp_path, capsys):
    doc, plot, results = tmp_path / "EVALS.md", tmp_path / "recall.png", tmp_path / "recall.json"
    doc.write_text("# Evaluations\n\nkept text\n")
    common = ["eval", "recall", "--steps", "2", "--episodes", "1", "--out", str(doc), "--plot", str(plot),
              "--results", str(results), "--quiet"]
    assert cli.main(common + ["--rules", "delta"]) == 0
    text = doc.read_text()
    assert "kept text" in text and "<!-- recall-mal-2:begin -->" in text and "| delta | frozen |" in text
    stored = json.loads(results.read_text())
    stored["delta"]["written_by_a_newer_version"] = 1
    results.write_text(json.dumps(stored))
    # a later run of other rules (two processes at once) merges into the same table
    assert cli.main(common + ["--rules", "hebbian,no-memory", "--jobs", "2"]) == 0
    text = doc.read_text()
    assert text.count("recall-mal-2:begin") == 1  # replaced, not appended
    assert "| delta | frozen |" in text and "| hebbian | memory |" in text and "| attention only | - |" in text
    assert set(json.loads(results.read_text())) == {"delta", "hebbian", "no-memory"}


def test_eval_recall_over_seeds(tmp_path):
    doc, results = tmp_path / "EVALS.md", tmp_path / "recall.json"
    assert cli.main(["eval", "recall", "--rules", "delta", "--seeds", "2", "--seed", "3", "--steps", "2",
                     "--episodes", "1", "--out", str(doc), "--plot", str(tmp_path / "r.png"),
                     "--results", str(results), "--quiet"]) == 0
    stored = json.loads(results.read_text())
    assert set(stored) == {"delta@3", "delta@4"} and [stored[k]["seed"] for k in sorted(stored)] == [3, 4]
    assert stored["delta@3"]["accuracy"] != stored["delta@4"]["accuracy"] or \
        stored["delta@3"]["final_bpb"] != stored["delta@4"]["final_bpb"]  # two different models
    text = doc.read_text()
    assert "### Over seeds" in text and "| delta | 3, 4 |" in text and "| delta (seed 4) | frozen |" in text


def test_eval_recall_at_another_learning_rate_has_its_own_files_and_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    args = ["eval", "recall", "--rules", "delta", "--steps", "2", "--episodes", "1", "--quiet"]
    assert cli.main(args) == 0 and cli.main(args + ["--lr", "5e-3"]) == 0
    text = (tmp_path / "docs" / "EVALS.md").read_text()
    assert "<!-- recall-mal-2:begin -->" in text and "<!-- recall-mal-2-lr0.005:begin -->" in text
    assert "(MQAR, MAL, 2 steps, lr 0.005)" in text and "(MQAR, MAL, 2 steps)" in text
    rates = {name: json.loads((tmp_path / "docs" / name).read_text())["delta"]["lr"]
             for name in ("evals_recall_mal_2.json", "evals_recall_mal_2_lr0.005.json")}
    assert rates == {"evals_recall_mal_2.json": 0.01, "evals_recall_mal_2_lr0.005.json": 0.005}


def test_evals_refuse_a_missing_output_folder_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no docs/ here: the defaults cannot be written
    trained = []
    monkeypatch.setattr(train, "train", lambda *a, **k: trained.append(1))
    for command in (["recall", "--rules", "delta"], ["text"], ["cms"]):
        assert cli.main(["eval", *command, "--steps", "1", "--quiet"]) == 2
        assert "no folder to write --out docs/EVALS.md" in capsys.readouterr().err
    assert not trained and not list(tmp_path.iterdir())


def test_long_text_split_and_position_buckets(tmp_path):
    for name, size in (("a.py", 40000), ("b.py", 100), ("test/c.py", 50000)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x = 1\n" * (size // 6))
    train_files, held = longtext.stdlib_split(tmp_path)
    assert {p.name for p in train_files} | {p.name for p in held} == {"a.py", "b.py"}  # test/ skipped
    model = train.new_model(ModelConfig(d_model=16, n_heads=2, window=4), seed=0)
    bits, counts = longtext.bits_by_position(model, [tmp_path / "a.py"], max_bytes=300)
    assert counts.tolist()[:4] == [16, 48, 192, 43] and np.isfinite(bits[:4]).all()


def test_eval_cms_writes_its_section(tmp_path, monkeypatch):
    from hecate_edge.evals import longtext, run_cms

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_bytes(b"def f(x):\n    return x + 1\n" * 1400)
    monkeypatch.setattr(longtext, "stdlib_split", lambda root=None: ([tmp_path / "a.py"], [tmp_path / "b.py"]))
    monkeypatch.setattr(run_cms, "STREAM_TRAIN", 20_000)
    monkeypatch.setattr(run_cms, "STREAM_HELD_OUT", 600)
    doc = tmp_path / "EVALS.md"
    assert cli.main(["eval", "cms", "--levels", "1,2", "--steps", "2", "--text-steps", "2", "--batch", "1",
                     "--out", str(doc), "--quiet"]) == 0
    text = doc.read_text()
    assert "<!-- cms:begin -->" in text and "| 1 | 1 |" in text and "| 2 | 1, 8 |" in text


def test_multiscale_stream_follows_its_table():
    from hecate_edge.evals import multiscale

    clean = multiscale.stream(4096, seed=3, signal=1.0)
    assert clean.max() < multiscale.VOCAB
    # with no noise, a token is fixed by (slow, medium, phase): one medium block repeats its phase pattern
    assert np.array_equal(clean[:8], clean[8:16])
    assert 0 < multiscale.entropy_floor() < np.log2(multiscale.VOCAB)


def test_capacity_probe_separates_rules_that_can_store_from_those_that_cannot():
    # MATH §3.2: delta with unit keys stores 4 pairs exactly at any step <= 1; MEMORA's
    # softmax rows start identical, so its read hardly depends on the key (DECISIONS D65)
    assert capacity.accuracy("delta", 4, 0.3, 1.0, trials=3, seed=0) == 1.0
    assert capacity.accuracy("hebbian", 4, None, 1.0, trials=3, seed=0) == 1.0
    assert capacity.probe("memora", trials=2, pair_counts=(4,)).best[4] <= 0.25


def test_eval_capacity_writes_its_section(tmp_path, capsys):
    doc = tmp_path / "EVALS.md"
    doc.write_text("# Evaluations\n\nkept text\n")
    assert cli.main(["eval", "capacity", "--rules", "delta,ssm", "--trials", "1", "--out", str(doc)]) == 0
    text = doc.read_text()
    assert "kept text" in text and "<!-- capacity:begin -->" in text
    assert "| delta | 1.00 | 1.00 | 1.00 |" in text and "| ssm |" in text
    assert cli.main(["eval", "capacity", "--rules", "nope", "--out", str(doc)]) == 2
    assert "unknown rules ['nope']" in capsys.readouterr().err
