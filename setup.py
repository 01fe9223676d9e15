"""Packaging for dgflow_tf.

Dependencies, and why each is needed:
- tensorflow>=2.16: the engine (tf.function loops, gradient tapes) and Keras 3.
- keras>=3.0: `RefinementModel` is a Keras 3 model; TF >= 2.16 ships with it.
- tensorflow-probability: stateless seeds (`tfp.random`) and the noise
  distributions of the refinement.
- tf-keras: TFP and TF-Hub import it under Keras 3; also lets users bring
  tf_keras generators and critics.
- tensorflow-hub: loading generators and discriminators published on TF-Hub.
- numpy: host-side arrays returned by `predict` and used by metrics.
"""

from setuptools import find_packages, setup

setup(
    name="dgflow_tf",
    version="0.1.0",
    description=(
        "Refine the samples of trained generative models with their discriminators "
        "(Discriminator Gradient flow, ICLR 2021) on TensorFlow and Keras 3."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["dgflow_tf", "dgflow_tf.*"]),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-probability>=0.24",
        "tf-keras>=2.16",
        "tensorflow-hub>=0.16",
        "numpy>=1.23",
    ],
    extras_require={
        # pytest runs the suite; ruff lints it (configured in pyproject.toml).
        "test": ["pytest>=7", "ruff>=0.5"],
    },
    entry_points={"console_scripts": ["dgflow-tf=dgflow_tf.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: Apache Software License",
    ],
)
