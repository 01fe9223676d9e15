"""Packaging for dgflow_tf.

Dependencies, and why each is needed:
- tensorflow>=2.16: the engine (tf.function loops, gradient tapes) and Keras 3.
- keras>=3.0: `RefinementModel` is a Keras 3 model; TF >= 2.16 ships with it.
- tensorflow-probability: stateless seeds (`tfp.random`) and the noise
  distributions of the refinement.
- tf-keras: TFP imports it under Keras 3; also lets users bring tf_keras
  generators and critics.
(Not tensorflow-hub: its import needs pkg_resources, which setuptools 82 and newer, the
version a fresh Python 3.12 venv gets, no longer ship. TF-Hub modules load with
tf.saved_model.load, and URLs are fetched and unpacked with the standard library, the
way tensorflow_hub does it; see dgflow_tf/adapters/hub/resolve.py.)
- numpy: host-side arrays returned by `predict` and used by metrics.
- scikit-learn: the Swiss roll and digits data sets (shipped inside it, so
  nothing is downloaded), the KDE score and MH-GAN's logistic calibration.
- scipy: symmetric eigendecompositions for the Frechet distance and
  log-sum-exp for the classifier score (already a scikit-learn dependency).
- pot: exact optimal-transport distances (`ot.emd2`) for the metrics.
- matplotlib: scatter plots and image grids written by the demo and benchmarks.
"""

from setuptools import find_packages, setup

setup(
    name="dgflow_tf",
    version="0.2.0",
    description=(
        "Refine the samples of trained generative models with their discriminators "
        "(Discriminator Gradient flow, ICLR 2021) on TensorFlow and Keras 3."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    # Tested: 3.11 (CI), 3.12 (CI's fresh-venv smoke run: demo, every public module, hub tests), 3.13
    # (demo in a fresh venv).
    python_requires=">=3.11",
    packages=find_packages(include=["dgflow_tf", "dgflow_tf.*"]),
    # The 2-D GANs' weights (about 2 MB), so that `dgflow-tf demo` starts at once, and the
    # digits classifier (0.8 MB) that gives offline FID/KID its features.
    # The 2-D WGAN-GPs' weights add about 8.5 MB (the paper's Table 1 models, 512-unit MLPs).
    # MNIST: the classifier (1.9 MB) and the test set's features (1.1 MB), so samples are scored
    # without the data, and the seed-0 models (weights/mnist, 13.4 MB: the conv GANs and VAE,
    # 9.3 MB, for the demo; the RealNVP flow, 4.1 MB, for the MNIST flow rows).
    package_data={
        "dgflow_tf.zoo": ["weights/*.weights.h5", "weights/*.json", "weights/*.npz", "weights/mnist/*"]
    },
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-probability>=0.24",
        "tf-keras>=2.16",
        "numpy>=1.23",
        "scikit-learn>=1.3",
        "scipy>=1.10",
        "pot>=0.9",
        "matplotlib>=3.7",
    ],
    extras_require={
        # pytest runs the suite (pytest-timeout gives every test a limit; pytest-xdist spreads it
        # over two processes, since much of it waits on subprocesses or runs single-threaded
        # Python) and hypothesis its property-based tests; ruff lints and checks the formatting
        # (configured in pyproject.toml; its format style changes only between minor releases, hence
        # the bound); jupytext, nbclient and ipykernel execute the notebooks headlessly in the
        # suite.
        "test": [
            "pytest>=7",
            "pytest-timeout>=2.2",
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            "ruff>=0.5,<0.18",
            "jupytext>=1.16",
            "nbclient>=0.10",
            "ipykernel>=6.29",
        ],
        # The documentation site: MkDocs with the Material theme, and mkdocstrings, whose Python
        # handler renders the API reference from the Google-style docstrings without importing
        # TensorFlow (static analysis), so the site builds in seconds and strictly (a broken
        # reference fails the build). Sphinx with autodoc would import every module to document it.
        "docs": [
            "mkdocs>=1.6",
            "mkdocs-material>=9.5",
            "mkdocstrings[python]>=0.26",
            # Typesets the pages' LaTeX as MathML at build time (docs/hooks/math.py): browsers
            # render it natively, so the site needs no MathJax or KaTeX script, CDN or bundle.
            "latex2mathml>=3.77",
        ],
        # benchmarks/mutation.py: mutmut generates the mutants of every module and maps functions
        # to the tests that reach them; pinned, since its fork server and trampolines are what
        # benchmarks/mutmut_signatures.py and [tool.mutmut] in pyproject.toml are written for.
        "mutation": ["mutmut==3.8.1"],
    },
    entry_points={"console_scripts": ["dgflow-tf=dgflow_tf.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: Apache Software License",
    ],
)
