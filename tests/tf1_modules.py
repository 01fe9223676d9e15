"""TF1 modules written through TensorFlow's own TF1 SavedModel builder, for the hub and export tests."""

import tensorflow as tf


def save_tf1(graph, path, signatures, tag_sets=(["serve"],)):
    """Writes `graph` with its variables initialised through TensorFlow's TF1 SavedModelBuilder,
    one MetaGraph per tag set, each with `signatures`."""
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        builder = tf.compat.v1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(session, tag_sets[0], signature_def_map=signatures)
        for tags in tag_sets[1:]:
            builder.add_meta_graph(tags, signature_def_map=signatures)
        builder.save()


def _gan_signatures(x, logits, generator_resource=True, generator_sigmoid=False):
    """Inside a graph: g(z) = z W (W = diag(1, 2)), optionally through a sigmoid, beside the given
    discriminator input and logits, as `generator` and `discriminator` signatures."""
    z = tf.compat.v1.placeholder(tf.float32, [None, 2], name="z")
    weight = tf.compat.v1.get_variable(
        "w", initializer=tf.constant([[1.0, 0.0], [0.0, 2.0]]), use_resource=generator_resource
    )
    samples = tf.matmul(z, weight)
    if generator_sigmoid:
        samples = tf.sigmoid(samples)
    return {
        "generator": tf.compat.v1.saved_model.predict_signature_def({"z": z}, {"default": samples}),
        "discriminator": tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"default": logits}),
    }


def write_two_metagraph_export(path, resource_variables=True, tag_sets=(["serve"], ["serve", "tpu"])):
    """A SavedModel with `{serve}` and `{serve, tpu}` MetaGraphs (as a TPUEstimator export has),
    written by TensorFlow's own TF1 builder: g(z) = z W, d(x) = -|x|^2. With
    `resource_variables=False`, W is a TF1 reference variable (VariableV2), as in old TF1 modules;
    `tag_sets=([],)` writes the TF1 Hub format's one untagged MetaGraph."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        logits = -tf.reduce_sum(x * x, axis=1, keepdims=True)
        save_tf1(graph, path, _gan_signatures(x, logits, generator_resource=resource_variables), tag_sets)


def write_tf1_gan(path, generator_sigmoid=False, discriminator_ref=False):
    """g(z) = z W (or sigmoid(z W)), d(x) = x v, through TF1's builder; v a reference variable if asked."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        v = tf.compat.v1.get_variable(
            "v", initializer=tf.constant([[1.0], [-1.0]]), use_resource=not discriminator_ref
        )
        save_tf1(graph, path, _gan_signatures(x, tf.matmul(x, v), generator_sigmoid=generator_sigmoid))
