"""The MNIST reference models: architectures, the shipped seed-0 weights, and the MNIST experiment."""

import keras
import numpy as np
import pytest

from dgflow_tf.experiments import mnist as mnist_experiment
from dgflow_tf.zoo import mnist_models, vae


def test_vae_stages_halve_the_side_each():
    model = vae.ConvolutionalVAE(latent_dim=4, image_size=28, width=4, stages=2, seed=0)
    assert model.decoder.output_shape == (None, 28, 28, 1)
    # Two stride-2 stages: the decoder's first feature map is 7x7.
    assert any(layer.output.shape[1:3] == (7, 7) for layer in model.decoder.layers[1:])
    with pytest.raises(ValueError, match=r"divisible by 2\*\*stages = 8"):
        vae.ConvolutionalVAE(image_size=28, stages=3)


def test_vae_negative_elbo_is_the_gaussian_likelihood_plus_the_closed_form_kl():
    model = vae.ConvolutionalVAE(latent_dim=3, image_size=8, width=4, observation_std=0.3, seed=5)
    images = np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype("float32")
    loss, kl = (t.numpy().astype("float64") for t in model.negative_elbo(images))
    # Independently: the same first draw of a seed generator seeded alike, then NumPy.
    mean, log_variance = (t.numpy().astype("float64") for t in model.encoder(images))
    noise = keras.random.normal(mean.shape, seed=keras.random.SeedGenerator(5)).numpy()
    reconstruction = model.decoder(mean + np.exp(0.5 * log_variance) * noise).numpy()
    expected_kl = 0.5 * np.sum(mean**2 + np.exp(log_variance) - 1.0 - log_variance, axis=1)
    squared_error = np.sum((images - reconstruction) ** 2, axis=(1, 2, 3))
    # The KL of an untrained encoder is ~1e-3, a sum of float32 terms of order 1 that cancel
    # (exp(v) - 1 - v): each can lose a few ulps of 1.0, whatever the CPU's exp kernel.
    cancellation = 0.5 * 3 * 4 * np.finfo(np.float32).eps
    np.testing.assert_allclose(kl, expected_kl, rtol=1e-5, atol=cancellation)
    np.testing.assert_allclose(loss, squared_error / (2 * 0.3**2) + expected_kl, rtol=1e-5)


def test_the_shipped_vae_scores_test_images_near_the_loss_keras_logged_in_its_last_epoch(mnist_test):
    # Against the trainer's own record (Keras's mean over the last training epoch): an encoder or
    # decoder built differently from the one trained (an activation dropped, a layer moved) loads
    # the same weights and scores far worse. Test images are new to it, so a few % apart.
    shipped = mnist_models.load_shipped_mnist_model("vae")
    images = mnist_test[0][:1000]
    loss, kl = (float(np.mean(t)) for t in shipped.trainer.negative_elbo(images))
    assert abs(loss / shipped.info["final"]["loss"] - 1.0) < 0.1
    assert abs(kl / shipped.info["final"]["kl"] - 1.0) < 0.15
    # Called as a model, the VAE reconstructs from its posterior means, closer to each test image than
    # the other images are.
    mean = shipped.trainer.encoder(images[:8])[0]
    reconstruction = np.asarray(shipped.trainer(images[:8]))
    decoded = np.asarray(shipped.trainer.decoder(mean))
    np.testing.assert_allclose(reconstruction, decoded, rtol=1e-5, atol=1e-6)
    distances = np.square(reconstruction[:, None] - images[None, :8]).sum(axis=(2, 3, 4))
    np.testing.assert_array_equal(np.argmin(distances, axis=1), np.arange(8))


def test_vae_training_logs_the_loss_and_kl_it_records():
    model = vae.ConvolutionalVAE(latent_dim=2, image_size=8, width=2, stages=1, seed=0)
    model.compile(optimizer="adam")
    images = np.random.default_rng(0).uniform(-1.0, 1.0, size=(16, 8, 8, 1)).astype("float32")
    history = model.fit(images, batch_size=8, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "kl"}
    assert history.history["kl"][0] > 0.0 and history.history["loss"][0] > history.history["kl"][0]


@pytest.mark.parametrize("name", ["latent_dim", "image_size", "channels", "width", "stages"])
def test_vae_names_a_bad_size(name):
    with pytest.raises(ValueError, match=rf"^`{name}` must be a positive integer\. Received: {name}=0$"):
        vae.ConvolutionalVAE(**{name: 0})


def test_unknown_names_and_missing_files_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="Unknown MNIST model 'began'"):
        mnist_models.canonical_name("began")
    with pytest.raises(FileNotFoundError, match="--name dcgan --seed 7 --output DIR"):
        mnist_models.load_mnist_model("dcgan", 7, str(tmp_path))


def test_missing_test_statistics_name_the_command_that_makes_them(tmp_path, capsys):
    from dgflow_tf.zoo import mnist_classifier

    missing = str(tmp_path / "none.npz")
    with pytest.raises(FileNotFoundError) as caught:
        mnist_classifier.load_test_statistics(missing)
    command = "python -m dgflow_tf.zoo.mnist_classifier --statistics-only"
    assert repr(missing) in str(caught.value) and f"`{command}`" in str(caught.value)
    # The named flag is one the module's command line takes.
    with pytest.raises(SystemExit):
        mnist_classifier.main(["--help"])
    assert "--statistics-only" in capsys.readouterr().out


@pytest.mark.parametrize("name", mnist_models.SHIPPED)
def test_shipped_models_load_and_state_how_they_were_made(name):
    model = mnist_models.load_shipped_mnist_model(name)
    samples = model.sample(16, seed=0)
    # The flow's sigmoid margin lets its samples pass [-1, 1] by 2 alpha / (1 - 2 alpha) = 0.111.
    bound = 1.0 + (2 * 0.05 / 0.9 if name == "flow" else 0.0)
    assert samples.shape == (16, 28, 28, 1) and np.all(np.abs(samples) <= bound + 1e-6)
    np.testing.assert_array_equal(samples, model.sample(16, seed=0))
    assert model.info["seed"] == 0 and model.info["train_seconds"] > 0
    assert model.info["command"] == f"python -m dgflow_tf.zoo.mnist_models --name {name} --seed 0"
    assert (model.discriminator is None) == (name in ("vae", "flow"))


def test_the_flow_generates_from_its_784_dimensional_base_and_scores_by_change_of_variables():
    # The generator is the flow's forward map; log p(x) = log N(z) - log|det df/dz|, re-derived with
    # a tape-computed Jacobian on an untrained flow small enough for a dense determinant.
    import tensorflow as tf

    from dgflow_tf.zoo.flows import RealNVPFlow

    model = mnist_models._wrap("flow", 0, mnist_models._build("flow", 0, 8), {})
    assert model.latent_shape == (784,) and model.discriminator is None
    small = RealNVPFlow(event_shape=(2, 2, 1), num_couplings=2, hidden_units=4, levels=256, seed=0)
    for network in small.coupling_networks:  # away from the identity the couplings start at
        network.layers[-1].kernel.assign(np.random.default_rng(1).normal(0, 0.3, (4, 4)))
    z = tf.constant(np.random.default_rng(2).normal(size=(1, 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(z)
        x = tf.reshape(small.bijector.forward(z), [1, 4])
    jacobian = tape.batch_jacobian(x, z)[0].numpy().astype(np.float64)
    log_normal = -0.5 * float(np.sum(z.numpy() ** 2)) - 2 * np.log(2 * np.pi)
    expected = log_normal - np.linalg.slogdet(jacobian)[1]
    observed = float(small(tf.reshape(x, [1, 2, 2, 1]))[0])
    np.testing.assert_allclose(observed, expected, rtol=1e-4, atol=1e-4)


def test_save_and_load_round_trip(tmp_path):
    model = mnist_models.load_shipped_mnist_model("dcgan")
    mnist_models.save_mnist_model(model, str(tmp_path))
    again = mnist_models.load_mnist_model("dcgan", 0, str(tmp_path))
    latents = model.sample_latents(4, seed=1)
    np.testing.assert_array_equal(model.generate(latents), again.generate(latents))
    images = model.generate(latents)
    np.testing.assert_array_equal(model.discriminator(images), again.discriminator(images))


def test_compare_refuses_bad_requests():
    model = mnist_models.load_shipped_mnist_model("dcgan")
    with pytest.raises(ValueError, match="Unknown methods"):
        mnist_experiment.compare_mnist(model, ["DGflow-chi2"])
    with pytest.raises(ValueError, match=r"lacks the tuned \['step_size'\] of \['DGflow-JS'\]"):
        mnist_experiment.compare_mnist(model, ["DGflow-JS"], num_samples=4)
    without = mnist_models.DigitsModel("vae", 0, model.generator, model.latent_shape, None, model.trainer)
    with pytest.raises(ValueError, match="has no discriminator"):
        mnist_experiment.compare_mnist(without, ["base"])


@pytest.mark.cli_flag("demo", "--data", "--mnist-models", "--num-samples", "--output-dir", "--quiet")
def test_mnist_demo_prints_base_default_and_tuned_rows_and_writes_grids(tmp_path):
    import io

    from dgflow_tf import cli

    out = io.StringIO()
    argv = ["demo", "--data", "mnist", "--mnist-models", "dcgan", "--num-samples", "500"]
    assert cli.main([*argv, "--output-dir", str(tmp_path), "--quiet"], out=out) == 0
    rows = {}
    for line in out.getvalue().splitlines():
        if line.startswith("dcgan "):
            label, cells = line[9:31].strip(), line[31:].split()
            rows[label] = {"fid": float(cells[0]), "evals": cells[5]}
    assert list(rows) == ["base", "DGflow-KL (defaults)", "DGflow-KL (step 0.03)"]
    # Both refinements help the shipped DCGAN, the tuned step more than the cautious default.
    assert rows["DGflow-KL (step 0.03)"]["fid"] < rows["DGflow-KL (defaults)"]["fid"] < rows["base"]["fid"]
    # K = 25 steps: 26 generator evaluations per sample.
    assert [row["evals"] for row in rows.values()] == ["1", "26", "26"]
    legend = out.getvalue().rstrip().splitlines()[-1]
    assert legend.startswith("FID and KID: lower is better.") and legend.endswith(
        "at most 10. G evals: generator (and critic) evaluations per sample."
    )
    with open(tmp_path / "mnist-dcgan.png", "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_vae_gets_the_dcgan_discriminator_plus_a_corrector(mnist_dir, monkeypatch):
    # The method's section 4: the VAE's critic is d_pre(x) + c(x), with d_pre the shipped DCGAN's
    # discriminator (frozen) and c trained for the VAE; the shipped VAE itself is left without one.
    monkeypatch.setenv("DGFLOW_TF_MNIST_DIR", mnist_dir)
    monkeypatch.setattr(mnist_experiment, "CORRECTOR_IMAGES", 256)
    monkeypatch.setattr(mnist_experiment, "CORRECTOR_EPOCHS", 1)
    shipped = mnist_models.load_shipped_mnist_model("vae")
    d_pre = mnist_models.load_shipped_mnist_model("dcgan").discriminator
    corrected = mnist_experiment.with_corrector(shipped, d_pre=d_pre)
    assert shipped.discriminator is None and corrected.generator is shipped.generator
    images = shipped.sample(8, seed=5)
    corrector = corrected.discriminator.critics[1]
    expected = np.asarray(d_pre(images)).reshape(-1) + np.asarray(corrector(images)).reshape(-1)
    np.testing.assert_allclose(np.asarray(corrected.discriminator(images)).reshape(-1), expected, rtol=1e-5)
    assert corrected.info["corrector"]["images"] == 256
    # The record says where d_pre came from: the caller's network here, the shipped DCGAN's by default.
    assert corrected.info["corrector"]["d_pre"] == "given by the caller"
    default = mnist_experiment.with_corrector(shipped)
    assert default.info["corrector"]["d_pre"] == "the shipped DCGAN's discriminator"
    np.testing.assert_allclose(
        np.asarray(default.discriminator.critics[0](images)).reshape(-1),
        np.asarray(d_pre(images)).reshape(-1),
        rtol=1e-6,
    )


def test_the_data_space_row_moves_pixels_along_the_discriminator_gradient(monkeypatch):
    # One noiseless step, re-derived with a plain tape: x1 = g(z) + eta * grad_x d(g(z)) (KL: s = 1).
    # The latent-space update gives other images, so a row that ignored `space` would fail here.
    import tensorflow as tf

    monkeypatch.setattr(mnist_experiment, "NUM_STEPS", 1)
    monkeypatch.setattr(mnist_experiment, "ENTROPY_WEIGHT", 0.0)
    model = mnist_models.load_shipped_mnist_model("dcgan")
    latents = model.sample_latents(3, seed=2)
    start = tf.constant(np.asarray(model.generate(latents)))
    with tf.GradientTape() as tape:
        tape.watch(start)
        logits = tf.reduce_sum(model.discriminator(start, training=False))
    expected = start.numpy() + 0.05 * tape.gradient(logits, start).numpy()
    samples, generator_evals, critic_evals = mnist_experiment._run(
        "DGflow-KL (data)", model, latents, 0, {"step_size": 0.05}
    )
    np.testing.assert_allclose(np.asarray(samples), expected, atol=1e-5)
    assert (generator_evals, critic_evals) == (1, 1)
    latent_samples, *_ = mnist_experiment._run("DGflow-KL", model, latents, 0, {"step_size": 0.05})
    assert np.abs(np.asarray(latent_samples) - expected).max() > 1e-2


def test_the_corrector_trains_on_distinct_training_images_drawn_by_seed(monkeypatch):
    # Each training image at most once (5,000 of 60,000 drawn with replacement would repeat about 200),
    # the rows keyed by the seed. The images are replaced by their row numbers to read the draw back.
    row_numbers = np.arange(60000, dtype=np.float32).reshape(-1, 1, 1, 1)
    monkeypatch.setattr(mnist_experiment, "_training_images", lambda: row_numbers)
    drawn = []

    class Drawn(Exception):
        pass

    def capture(real, fake, **kwargs):
        drawn.append(np.asarray(real).ravel())
        raise Drawn

    monkeypatch.setattr(mnist_experiment, "train_corrector", capture)
    vae = mnist_models.load_shipped_mnist_model("vae")
    for seed in (1, 1, 2):
        with pytest.raises(Drawn):
            mnist_experiment.with_corrector(vae, d_pre=lambda x: x, seed=seed)
    assert all(len(rows) == mnist_experiment.CORRECTOR_IMAGES == len(np.unique(rows)) for rows in drawn)
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.array_equal(drawn[0], drawn[2])
