"""Text: the JS-n metric against hand-computed n-gram distributions, the corpus and the character GAN."""

import json
import math
import os

import numpy as np
import pytest
import scipy.spatial.distance

from dgflow_tf import datasets
from dgflow_tf.metrics import text


def test_ngram_counts_stay_inside_each_string():
    assert text.ngram_counts(["abcd"], 2) == {"ab": 1, "bc": 1, "cd": 1}
    assert text.ngram_counts(["ab", "cd"], 2) == {"ab": 1, "cd": 1}
    assert text.ngram_counts(["aaa", "a"], 2) == {"aa": 2}
    with pytest.raises(TypeError, match="`strings` must hold str"):
        text.ngram_counts([b"ab"], 1)


def test_js_divergence_against_hand_computed_values():
    # P = {a: 1/2, b: 1/2}, Q = {a: 1/2, c: 1/2}, M = {a: 1/2, b: 1/4, c: 1/4}:
    # KL(P || M) = KL(Q || M) = 1/2 log2(2) = 1/2.
    assert text.js_divergence(["ab"], ["ac"], 1) == pytest.approx(0.5, abs=1e-12)
    # Disjoint bigrams: 1 bit, the maximum.
    assert text.js_divergence(["ab"], ["ac"], 2) == pytest.approx(1.0, abs=1e-12)
    # P = {a: 2/3, b: 1/3}, Q = {a: 1/3, b: 2/3}, M uniform.
    expected = 2 / 3 * math.log2(4 / 3) + 1 / 3 * math.log2(2 / 3)
    assert text.js_divergence(["aab"], ["abb"], 1) == pytest.approx(expected, abs=1e-12)
    assert text.js_divergence(["abcabc"], ["abcabc"], 3) == pytest.approx(0.0, abs=1e-12)


def test_js_divergence_matches_scipy_on_random_strings():
    rng = np.random.default_rng(0)
    samples = ["".join(rng.choice(list("abcd"), size=12)) for _ in range(30)]
    reference = ["".join(rng.choice(list("abcde"), p=[0.4, 0.3, 0.1, 0.1, 0.1], size=40)) for _ in range(10)]
    for n in (1, 2, 3):
        p_counts, q_counts = text.ngram_counts(samples, n), text.ngram_counts(reference, n)
        keys = sorted(set(p_counts) | set(q_counts))
        p = np.array([p_counts[k] for k in keys], float)
        q = np.array([q_counts[k] for k in keys], float)
        expected = scipy.spatial.distance.jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2
        assert text.js_divergence(samples, reference, n) == pytest.approx(expected, abs=1e-12)
    table = text.js_table(samples, reference)
    assert list(table) == ["js1", "js2", "js3", "js4"]
    # Closed forms: identical sets are 0 apart; sets with no n-gram in common are 1 apart (base 2).
    assert text.js_divergence(samples, samples, 2) == 0.0
    assert text.js_divergence(["aaaa"], ["bbbb"], 2) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least n=5 characters"):
        text.js_divergence(["abcd"], ["abcdef"], 5)


def test_python_docs_corpus_and_windows():
    train, held_out, alphabet = datasets.python_docs_text(held_out_fraction=0.1)
    assert len(train) > 300_000 and abs(len(held_out) / (len(train) + len(held_out)) - 0.1) < 1e-4
    assert set(train + held_out) == set(alphabet) and all(" " <= c <= "~" for c in alphabet)
    assert "  " not in train
    windows = datasets.character_windows("abcabcab", "abc", length=3, stride=2)
    np.testing.assert_array_equal(windows, [[0, 1, 2], [2, 0, 1], [1, 2, 0]])
    with pytest.raises(ValueError, match="outside `alphabet`"):
        datasets.character_windows("abz", "ab", length=2)
    with pytest.raises(ValueError, match="held_out_fraction"):
        datasets.python_docs_text(held_out_fraction=1.0)


def test_tiny_character_gan_trains_saves_reloads_and_decodes(tmp_path):
    from dgflow_tf.zoo import char_gan

    model = char_gan.train_char_gan(seed=0, size="tiny", critic_steps=20)
    z = model.sample_latents(5, seed=1)
    sequences = model.generate(z)
    assert sequences.shape == (5, char_gan.SEQUENCE_LENGTH, len(model.alphabet))
    np.testing.assert_allclose(sequences.sum(axis=-1), 1.0, rtol=1e-5)
    strings = model.decode(sequences)
    assert all(len(s) == char_gan.SEQUENCE_LENGTH and set(s) <= set(model.alphabet) for s in strings)
    char_gan.save_char_gan(model, tmp_path)
    # The names a cache directory is searched by, and an info file that diffs stably (sorted keys).
    assert sorted(os.listdir(tmp_path)) == [
        "char-gan-tiny-seed0.critic.weights.h5",
        "char-gan-tiny-seed0.generator.weights.h5",
        "char-gan-tiny-seed0.json",
    ]
    with open(tmp_path / "char-gan-tiny-seed0.json", encoding="utf-8") as handle:
        text = handle.read()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True)
    reloaded = char_gan.load_char_gan(0, "tiny", tmp_path)
    np.testing.assert_array_equal(reloaded.generate(z), sequences)
    with pytest.raises(FileNotFoundError, match="No saved character GAN for seed 1"):
        char_gan.load_char_gan(1, "tiny", tmp_path)
    with pytest.raises(ValueError, match="Unknown size 'huge'"):
        char_gan.train_char_gan(size="huge")
    message = r"`critic_steps` must be a positive integer\. Received: critic_steps=0"
    with pytest.raises(ValueError, match=message):
        char_gan.train_char_gan(size="tiny", critic_steps=0)


def test_train_or_load_caches_only_the_default_training_and_then_loads_it(tmp_path, monkeypatch):
    from dgflow_tf.experiments import text as text_experiment
    from dgflow_tf.zoo import char_gan

    monkeypatch.setitem(char_gan.SIZES, "tiny", {"width": 8, "blocks": 1, "critic_steps": 5, "batch_size": 8})
    trained = []
    train = char_gan.train_char_gan
    monkeypatch.setattr(char_gan, "train_char_gan", lambda *a, **k: trained.append(k) or train(*a, **k))
    cache = tmp_path / "cache"
    # No cache: trained, nothing written.
    text_experiment.train_or_load(1, "tiny")
    assert len(trained) == 1 and not cache.exists()
    # The default training is saved, then loaded instead of trained again.
    first = text_experiment.train_or_load(1, "tiny", str(cache))
    files = sorted(path.name for path in cache.iterdir())
    assert len(trained) == 2 and files == [
        "char-gan-tiny-seed1.critic.weights.h5",
        "char-gan-tiny-seed1.generator.weights.h5",
        "char-gan-tiny-seed1.json",
    ]
    stamps = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}
    again = text_experiment.train_or_load(1, "tiny", str(cache))
    assert len(trained) == 2 and again.info == json.loads((cache / files[2]).read_text())
    for a, b in zip(first.generator.get_weights(), again.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # Another number of critic steps is another model: trained, and the cached one left as it was.
    text_experiment.train_or_load(1, "tiny", str(cache), critic_steps=3)
    assert trained[-1]["critic_steps"] == 3 and len(trained) == 3
    assert {path.name: path.stat().st_mtime_ns for path in cache.iterdir()} == stamps


def test_text_benchmark_runs_small_and_resumes(tmp_path):
    import json

    from benchmark_scripts import load_benchmark

    benchmark = load_benchmark("text")
    argv = [
        "--seeds",
        "0",
        "--num-samples",
        "40",
        "--size",
        "tiny",
        "--critic-steps",
        "20",
        "--quiet",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--output",
        str(tmp_path / "out"),
    ]
    assert benchmark.main(argv) == 0
    result = json.loads((tmp_path / "out" / "text-quick.json").read_text())
    rows = result["per_seed"][0]
    assert [row["method"] for row in rows] == ["base", benchmark.DEFAULTS, benchmark.PAPER, benchmark.TUNED]
    assert all(np.isfinite(row[f"js{n}"]) for row in rows for n in (1, 2, 3, 4))
    assert len(result["samples"]["0"]["base"]) == 6
    # The tuned step is the sweep's, chosen on the tuning seed, and the tuned row ran at it.
    assert result["tuning_seed"] == 100 and result["sweep"][0]["seed"] == 100
    assert [row["step_size"] for row in result["sweep"][1:]] == list(benchmark.SWEEP_STEPS)
    assert rows[3]["step_size"] == result["tuned_step_size"] in benchmark.SWEEP_STEPS
    assert rows[2]["step_size"] == 0.1 and rows[1]["step_size"] > 0
    # A second run reads the finished seeds instead of recomputing them.
    finished = [
        next((tmp_path / "cache").rglob(f"seed{seed}-n40-{tag}.json"))
        for seed, tag in ((0, "evaluation"), (100, "sweep"))
    ]
    stamps = [path.stat().st_mtime_ns for path in finished]
    assert benchmark.main(argv) == 0
    assert [path.stat().st_mtime_ns for path in finished] == stamps
    page = (tmp_path / "out" / "text-quick.md").read_text()
    assert "Share of the tuned step's gain" in page and "## Step-size sweep (tuning seed 100)" in page
    # The tuning seed may not also be an evaluation seed.
    with pytest.raises(SystemExit):
        benchmark.main([*argv, "--tuning-seed", "0"])


def test_text_benchmark_tunes_on_js4_and_shares_the_tuned_gain():
    # Hand-worked rows: the tuned step is the sweep's lowest JS-4 (never the base), and a share is
    # (base - value) / (base - tuned) of the means, None where the tuned step lowers nothing.
    from benchmark_scripts import load_benchmark

    benchmark = load_benchmark("text")
    sweep = [
        {"method": "base", "js4": 0.5},
        {"method": "step 0.01", "step_size": 0.01, "js4": 0.7},
        {"method": "step 0.1", "step_size": 0.1, "js4": 0.6},
    ]
    assert benchmark.tuned_step(sweep) == 0.1
    assert benchmark.gain_share(0.8, 0.75, 0.7) == pytest.approx(0.5)
    assert benchmark.gain_share(0.8, 0.85, 0.7) == pytest.approx(-0.5)
    assert benchmark.gain_share(0.8, 0.75, 0.8) is None
    values = {"base": 0.8, benchmark.DEFAULTS: 0.74, benchmark.PAPER: 0.9, benchmark.TUNED: 0.7}
    summary = benchmark.add_shares(
        [{"method": m, **{k: v for k in benchmark.METRICS}} for m, v in values.items()]
    )
    shares = {e["method"]: e.get("js4_share") for e in summary}
    assert shares[benchmark.DEFAULTS] == pytest.approx(0.6) and shares[benchmark.PAPER] == pytest.approx(-1.0)
    assert "js4_share" not in summary[0]
    table = benchmark.format_shares(summary)
    assert "| DGflow (defaults) | 60 % | 60 % | 60 % | 60 % |" in table and "-100 %" in table


@pytest.mark.slow
def test_dgflow_lowers_js4_of_the_cpu_character_gan():
    # The benchmark's seed-0 model (about half an hour of training on 2 CPU cores).
    from dgflow_tf.experiments import text as text_experiment

    rows, samples = text_experiment.compare_text(0, num_samples=1000)
    base, refined = rows
    assert base["method"] == "base" and refined["method"] == "DGflow"
    assert refined["js4"] < base["js4"] - 0.02
    assert len(samples["DGflow"]) == 1000


def test_compare_text_rows_are_the_generators_own_and_the_refined_samples(monkeypatch):
    # Wiring of experiments.text (mutmut survivors): the GAN is asked for with the caller's cache
    # and training length, the base row decodes g(z) itself, the DGflow row the refined latents,
    # and each row names its seed and time; 2,000 samples unless told otherwise.
    from dgflow_tf.experiments import text as text_experiment
    from dgflow_tf.zoo import char_gan

    monkeypatch.setitem(char_gan.SIZES, "tiny", {"width": 8, "blocks": 1, "critic_steps": 5, "batch_size": 8})
    model = char_gan.train_char_gan(seed=0, size="tiny", critic_steps=5)
    asked = []
    monkeypatch.setattr(text_experiment, "train_or_load", lambda *args: asked.append(args) or model)
    messages = []
    rows, samples = text_experiment.compare_text(
        4, size="tiny", cache_dir="somewhere", critic_steps=5, progress=messages.append
    )
    assert asked == [(4, "tiny", "somewhere", 5)]
    assert messages == ["seed 4: character GAN", "seed 4: base", "seed 4: DGflow"]
    latents = model.sample_latents(2000, text_experiment._LATENTS + 4)
    assert samples["base"] == model.decode(model.generate(latents))
    assert len(samples["DGflow"]) == 2000 and samples["DGflow"] != samples["base"]
    assert [(row["seed"], row["method"]) for row in rows] == [(4, "base"), (4, "DGflow")]
    assert all(row["seconds"] > 0 for row in rows)
    assert rows[1]["step_size"] == text_experiment.DGFLOW_SETTINGS["step_size"]
    # `methods` refines under each setting in turn; None is the library's every default ("auto").
    rows, samples = text_experiment.compare_text(
        4, num_samples=20, methods={"defaults": None, "small": {"step_size": 0.001}}
    )
    assert [row["method"] for row in rows] == ["base", "defaults", "small"]
    assert rows[2]["step_size"] == 0.001 and rows[1]["step_size"] != 0.001
    with pytest.raises(ValueError, match="'base'"):
        text_experiment.compare_text(4, methods={"base": None})


def test_train_or_load_trains_the_cpu_size_by_default(monkeypatch):
    from dgflow_tf.experiments import text as text_experiment
    from dgflow_tf.zoo import char_gan

    sizes = []
    monkeypatch.setattr(char_gan, "train_char_gan", lambda seed, size, critic_steps: sizes.append(size))
    text_experiment.train_or_load(0)
    assert sizes == ["cpu"]
