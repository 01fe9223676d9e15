"""Edges the suite did not set up before: a cluster with a `chief` task, a classifier score whose
splits differ in class mix, a partly concave f, ties and unsorted step counts in a sweep, the
blow-up rule's threshold, and a prior's draws per dtype. Each test builds the case in which the
bug it guards against would change the answer."""

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import distributed, divergences, priors, tuning
from dgflow_tf.metrics import images as image_metrics


class _Cluster:
    def __init__(self, spec, task_type, task_id):
        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(spec), task_type=task_type, task_id=task_id
        )


@pytest.mark.parametrize(
    ("spec", "task", "chief"),
    [
        ({"chief": ["a:1"], "worker": ["b:2", "c:3"]}, ("chief", 0), True),
        ({"chief": ["a:1"], "worker": ["b:2", "c:3"]}, ("worker", 0), False),  # worker 0 is not chief here
        ({"chief": ["a:1"], "worker": ["b:2", "c:3"]}, ("worker", 1), False),
        ({"worker": ["b:2", "c:3"]}, ("worker", 0), True),
        ({"worker": ["b:2", "c:3"]}, ("worker", 1), False),
    ],
)
def test_the_chief_is_the_chief_task_or_worker_0_without_one(monkeypatch, spec, task, chief):
    monkeypatch.setattr(distributed, "is_multi_worker", lambda strategy: True)
    assert distributed.is_chief(_Cluster(spec, *task)) is chief


def test_without_an_argument_the_chief_is_read_from_the_strategy_in_scope(monkeypatch):
    # Inside a multi-worker strategy's scope, worker 1 of a chiefless cluster must not write.
    in_scope = _Cluster({"worker": ["b:2", "c:3"]}, "worker", 1)
    monkeypatch.setattr(distributed, "is_multi_worker", lambda strategy: strategy is in_scope)
    monkeypatch.setattr(tf.distribute, "has_strategy", lambda: True)
    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: in_scope)
    assert distributed.is_chief() is False


class _ChiefAndMe(_Cluster):
    """Worker 1 of two; `reduce` adds the chief's contribution, `[1, 7, 8]`, to this worker's."""

    def experimental_distribute_values_from_function(self, function):
        return function(None)

    def reduce(self, operation, value, axis):
        assert operation == tf.distribute.ReduceOp.SUM
        return tf.constant([1, 7, 8], tf.int64) + value


def test_agree_with_chief_uses_the_strategy_it_is_given_in_or_out_of_a_scope(monkeypatch):
    strategy = _ChiefAndMe({"worker": ["b:2", "c:3"]}, "worker", 1)
    monkeypatch.setattr(distributed, "is_multi_worker", lambda given: given is strategy)
    assert not tf.distribute.has_strategy()
    np.testing.assert_array_equal(distributed.agree_with_chief([3, 4], strategy), [7, 8])
    np.testing.assert_array_equal(distributed.agree_with_chief([3, 4]), [3, 4])  # one process: its own
    # Inside another strategy's scope the given one still decides.
    monkeypatch.setattr(tf.distribute, "has_strategy", lambda: True)
    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: _Cluster({"worker": ["b:2"]}, "worker", 0))
    np.testing.assert_array_equal(distributed.agree_with_chief([3, 4], strategy), [7, 8])


def test_classifier_score_uses_each_splits_own_marginal():
    # Split 1 is mostly class 0, split 2 mostly class 1: a marginal over all samples would give
    # both splits a higher score than their own marginals do.
    rng = np.random.default_rng(0)
    first = np.column_stack([rng.normal(3, 1, 50), rng.normal(0, 1, 50), rng.normal(0, 1, 50)])
    second = np.column_stack([rng.normal(0, 1, 50), rng.normal(3, 1, 50), rng.normal(1, 1, 50)])
    logits = np.concatenate([first, second])
    scores = []
    for part in (logits[:50], logits[50:]):  # by hand: softmax, the split's marginal, KL per sample
        p = np.exp(part) / np.exp(part).sum(axis=1, keepdims=True)
        marginal = p.mean(axis=0)
        scores.append(np.exp(np.mean([np.sum(row * np.log(row / marginal)) for row in p])))
    mean, std = image_metrics.classifier_score(logits, num_splits=2)
    assert mean == pytest.approx(np.mean(scores), rel=1e-10)
    assert std == pytest.approx(np.std(scores), rel=1e-8)
    pooled = np.exp(
        np.mean(
            np.sum(
                (p_all := np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
                * np.log(p_all / p_all.mean(0)),
                axis=1,
            )
        )
    )
    assert abs(pooled - mean) > 0.05  # the case where a pooled marginal would be wrong


def test_a_partly_concave_f_is_refused():
    # f(r) = (r - 1)^2 - 0.01 (r - 1)^3 is convex near 1 but f'' < 0 beyond r = 34.3.
    with pytest.raises(ValueError, match="must be convex"):
        divergences.FDivergence(lambda r: (r - 1.0) ** 2 - 0.01 * (r - 1.0) ** 3, name="partly")
    divergences.FDivergence(lambda r: (r - 1.0) ** 2 + 0.01 * (r - 1.0) ** 4, name="convex")  # accepted


class _Constant:
    def __init__(self, samples):
        self.samples = samples

    def refine(self, inputs):
        return self


def test_sweep_ties_go_to_the_first_row_and_step_counts_are_sorted():
    samples = np.zeros((4, 2))
    result = tuning.sweep(
        lambda step_size, num_steps: _Constant(samples),
        samples,
        lambda x: 1.0,  # every setting scores the same
        step_sizes=[0.1, 0.01],
        num_steps=[25, 5],
    )
    assert [(row["step_size"], row["num_steps"]) for row in result.rows] == [
        (0.01, 5),
        (0.01, 25),
        (0.1, 5),
        (0.1, 25),
    ]
    assert result.best is result.rows[0]


def test_the_blowup_rule_is_ten_times_the_references_spread():
    reference = np.array([[1.0, 0.0], [-1.0, 0.0]])  # mean 0, RMS spread 1
    assert not tuning.diverged(np.array([[9.9, 0.0]]), reference)
    assert tuning.diverged(np.array([[10.1, 0.0]]), reference)
    assert tuning.diverged(np.array([[np.nan, 0.0]]))


def test_a_priors_draws_follow_the_dtype_asked_for():
    prior = priors.get("normal")
    single = prior.sample(6, (3,), seed=1, dtype="float32")
    double = prior.sample(6, (3,), seed=1, dtype="float64")  # after a float32 draw of the same shape
    assert single.dtype == tf.float32 and double.dtype == tf.float64
    # Each dtype has its own stream (TFP draws float64 from other bits), reproducible on its own.
    np.testing.assert_array_equal(prior.sample(6, (3,), seed=1, dtype="float64").numpy(), double.numpy())
    np.testing.assert_array_equal(prior.sample(6, (3,), seed=1, dtype="float32").numpy(), single.numpy())


def _manifest(positions, count=10):
    from dgflow_tf import manifest as manifest_lib

    return {
        "format": manifest_lib.FORMAT,
        "num_samples": 20,
        "shard_size": 10,
        "batch_size": 5,
        "seed": 0,
        "latent_seed": 0,
        "settings": {},
        "weights_sha256": "0" * 64,
        "inputs_sha256": None,
        "shards": [
            {
                "index": 1,
                "file": "shard-00001.npy",
                "start": 10,
                "count": count,
                "sha256": "a" * 64,
                "nonfinite": {"positions": positions, "steps": [0] * len(positions)},
            }
        ],
    }


def test_manifest_position_bounds_are_exact():
    from dgflow_tf import manifest as manifest_lib

    manifest_lib.validate(_manifest([10, 19]))  # the shard's first and last sample
    for positions in ([9], [20]):  # one before, one past
        with pytest.raises(manifest_lib.ManifestError, match="positions outside its samples"):
            manifest_lib.validate(_manifest(positions))
    with pytest.raises(manifest_lib.ManifestError, match="covers samples 10 to 21"):
        manifest_lib.validate(_manifest([], count=11))


def _stream_model(generator_bias=0.0, conditional=False):
    import keras

    from dgflow_tf import RefinementModel

    keras.utils.set_random_seed(0)
    if conditional:
        z, label = keras.Input((2,)), keras.Input((), dtype="int32")
        hidden = keras.layers.Concatenate()([z, keras.layers.Embedding(3, 2)(label)])
        generator = keras.Model([z, label], keras.layers.Dense(2)(hidden))
        x, label = keras.Input((2,)), keras.Input((), dtype="int32")
        hidden = keras.layers.Concatenate()([x, keras.layers.Embedding(3, 2)(label)])
        critic = keras.Model([x, label], keras.layers.Dense(1)(hidden))
    else:
        generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    generator.layers[-1].bias.assign_add(tf.fill(generator.layers[-1].bias.shape, generator_bias))
    return RefinementModel(
        generator, critic, conditional=conditional, latent_shape=(2,), num_steps=2, step_size=0.05, seed=0
    )


def test_resume_is_refused_when_the_generator_changed(tmp_path):
    from dgflow_tf import streaming

    streaming.refine_to_shards(_stream_model(), tmp_path, 20, shard_size=10, verbose=0)
    with pytest.raises(ValueError, match="weights_sha256"):
        streaming.refine_to_shards(_stream_model(generator_bias=0.5), tmp_path, 20, shard_size=10, verbose=0)


def test_resume_is_refused_when_the_conditions_changed(tmp_path):
    from dgflow_tf import streaming

    model = _stream_model(conditional=True)
    latents = model.sample_latents(12, seed=0)
    labels = np.arange(12, dtype="int32") % 3
    streaming.refine_to_shards(model, tmp_path, latents=latents, conditions=labels, shard_size=6, verbose=0)
    with pytest.raises(ValueError, match="inputs_sha256"):
        streaming.refine_to_shards(
            model, tmp_path, latents=latents, conditions=(labels + 1) % 3, shard_size=6, verbose=0
        )
