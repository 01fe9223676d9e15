"""One configuration object for a refinement: hyperparameters, defaults and choice lists.

`RefinementConfig` is the single source of what a `RefinementModel` is
configured with: it validates the arguments once, resolves names
(divergences, priors), and gives the model's `get_config`, the streaming
manifest's settings and the CLI's defaults and choices.

Examples:
    >>> config = RefinementConfig.create(divergence="JS", step_size=0.01)
    >>> config.divergence.name, config.step_size, config.num_steps
    ('JS', 0.01, 25)
    >>> RefinementConfig.create(step_size=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: `step_size` must be a finite positive number. Received: step_size=-1.0
"""

import dataclasses

# The choice lists have no TensorFlow in them, so the command line reads them (and the defaults)
# without importing TensorFlow; the modules that implement each choice import them from here.
SPACES = ("latent", "data")
DIVERGENCES = ("KL", "JS", "logD", "chi2")
PRIORS = ("normal", "uniform", "truncated_normal")
BOUNDARIES = ("reflect", "clip", "none")
ON_NONFINITE_POLICIES = ("raise", "freeze")
SOLVERS = ("euler", "mala", "adaptive")
STEP_SCHEDULES = ("constant", "linear")
NOISE_DISTRIBUTIONS = ("normal", "rademacher")
JIT_COMPILE = (True, False, "auto")
#: `calibrate`'s default tuning batch (`calibration.MAX_SAMPLES`), here so the CLI's default is the same.
CALIBRATION_SAMPLES = 1000

#: The paper's Algorithm 1 (KL, gamma = 0.01, K = 25, Euler-Maruyama), except the step size: the
#: paper's eta = 0.1 suits its spectrally normalised critics only, so `"auto"` sets it from the
#: model's own drift (`dgflow_tf.step_size`).
DEFAULTS = {
    "divergence": "KL",
    "step_size": "auto",
    "entropy_weight": 0.01,
    "num_steps": 25,
    "space": "latent",
    "seed": None,
    "latent_shape": None,
    "latent_prior": None,
    "boundary": "reflect",
    "conditional": False,
    "on_nonfinite": "raise",
    "jit_compile": "auto",
    "solver": "euler",
    "step_schedule": "constant",
    "noise_distribution": "normal",
}


@dataclasses.dataclass(frozen=True)
class RefinementConfig:
    """The validated settings of a refinement (see `RefinementModel` for each one's meaning).

    Build it with `RefinementConfig.create(**arguments)`, which validates and
    resolves names; the fields then hold resolved objects (a `Divergence`, a
    `LatentPrior`).
    """

    divergence: object  # a divergences.Divergence
    step_size: object  # a positive float, or "auto" (resolved by the model, `dgflow_tf.step_size`)
    entropy_weight: float
    num_steps: int
    space: str
    seed: object
    latent_shape: tuple | None
    latent_prior: object  # a priors.LatentPrior
    boundary: str
    conditional: bool
    on_nonfinite: str
    jit_compile: object
    solver: str
    step_schedule: str
    noise_distribution: str

    @classmethod
    def create(cls, **arguments):
        """Validates user arguments (missing ones take `DEFAULTS`); returns a config.

        Raises:
            TypeError: for an unknown argument, or `divergence`, `latent_prior`,
                `seed` or `conditional` of an unsupported type.
            ValueError: for a `step_size` that is neither `"auto"` nor a
                positive finite number, a
                negative `entropy_weight` or `num_steps`, or an unknown
                `divergence`, `space`, `latent_prior`, `boundary`,
                `on_nonfinite`, `jit_compile`, `solver`, `step_schedule` or
                `noise_distribution`, or `solver="mala"` with `entropy_weight=0`
                or noise other than `"normal"`, or a solver other than
                `"euler"` with a schedule other than `"constant"`.
        """
        # Imported here: they need TensorFlow, and import this module's choice lists themselves.
        from dgflow_tf import divergences as divergences_lib
        from dgflow_tf import noise as noise_lib
        from dgflow_tf import priors as priors_lib
        from dgflow_tf import schedules as schedules_lib
        from dgflow_tf import step_size as step_size_lib
        from dgflow_tf._validation import check_non_negative_float, check_non_negative_int
        from dgflow_tf.errors import check_on_nonfinite

        unknown = sorted(set(arguments) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"Unknown refinement arguments {unknown}. Expected some of: {sorted(DEFAULTS)}")
        values = {**DEFAULTS, **arguments}
        if values["space"] not in SPACES:
            raise ValueError(f"Unknown space {values['space']!r}. Expected one of: {list(SPACES)}")
        step_size = values["step_size"]
        step_size = step_size_lib.AUTO if step_size_lib.is_auto(step_size) else check_step_size(step_size)
        entropy_weight = check_non_negative_float(values["entropy_weight"], "entropy_weight")
        solver = values["solver"]
        if solver not in SOLVERS:
            raise ValueError(f"Unknown solver {solver!r}. Expected one of: {list(SOLVERS)}")
        if solver == "mala" and entropy_weight == 0.0:
            raise ValueError(
                "solver='mala' needs entropy_weight > 0: its acceptance test compares the step with "
                "the noise it adds. Use solver='euler' for the deterministic flow."
            )
        step_schedule = schedules_lib.check_schedule(values["step_schedule"])
        if solver != "euler" and step_schedule != "constant":
            raise ValueError(
                f"step_schedule={step_schedule!r} applies to solver='euler'; solver={solver!r} adapts "
                f"each sample's step itself. Use step_schedule='constant' with solver={solver!r}."
            )
        noise_distribution = values["noise_distribution"]
        if noise_distribution not in NOISE_DISTRIBUTIONS:
            raise ValueError(
                f"Unknown noise_distribution {noise_distribution!r}. Expected one of: "
                f"{list(NOISE_DISTRIBUTIONS)}"
            )
        if solver == "mala" and noise_distribution != "normal":
            raise ValueError(
                f"noise_distribution={noise_distribution!r} applies to solver='euler'; solver='mala' "
                "accepts a step by the density of a normal proposal. Use noise_distribution='normal' "
                "with solver='mala'."
            )
        num_steps = check_non_negative_int(values["num_steps"], "num_steps")
        divergence = divergences_lib.get(values["divergence"])
        if values["seed"] is not None:
            noise_lib.sanitize_seed(values["seed"])  # validates type and shape early
        latent_prior = priors_lib.get(values["latent_prior"])
        boundary = priors_lib.check_boundary(values["boundary"])
        conditional = values["conditional"]
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be True or False. Received: conditional={conditional!r}")
        on_nonfinite = check_on_nonfinite(values["on_nonfinite"])
        jit_compile = values["jit_compile"]
        if jit_compile not in JIT_COMPILE:
            raise ValueError(
                f"`jit_compile` must be True, False or 'auto'. Received: jit_compile={jit_compile!r}"
            )
        latent_shape = values["latent_shape"]
        latent_shape = None if latent_shape is None else tuple(int(d) for d in latent_shape)
        return cls(
            divergence=divergence,
            step_size=step_size,
            entropy_weight=entropy_weight,
            num_steps=num_steps,
            space=values["space"],
            seed=values["seed"],
            latent_shape=latent_shape,
            latent_prior=latent_prior,
            boundary=boundary,
            conditional=conditional,
            on_nonfinite=on_nonfinite,
            jit_compile=jit_compile,
            solver=solver,
            step_schedule=step_schedule,
            noise_distribution=noise_distribution,
        )

    def replace(self, **changes):
        """A copy with `changes` (validated like `create`)."""
        return RefinementConfig.create(**{**self.arguments(), **changes})

    def arguments(self):
        """The keyword arguments that `create` rebuilds this config from (live objects kept)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @property
    def compiles_with_xla(self):
        """Whether the refinement is compiled with XLA. `"auto"` keeps graph mode: on CPU,
        `benchmarks/step_cost.py` measured XLA slower for convolutional nets."""
        return False if self.jit_compile == "auto" else self.jit_compile

    def get_config(self):
        """JSON-friendly values for `keras.Model.get_config` (named divergences and priors by name)."""
        from dgflow_tf import divergences as divergences_lib
        from dgflow_tf import priors as priors_lib

        return {
            "divergence": divergences_lib.serialize(self.divergence),
            "step_size": self.step_size,
            "entropy_weight": self.entropy_weight,
            "num_steps": self.num_steps,
            "space": self.space,
            "seed": self.seed,
            "latent_shape": None if self.latent_shape is None else list(self.latent_shape),
            "latent_prior": priors_lib.serialize(self.latent_prior),
            "boundary": self.boundary,
            "conditional": self.conditional,
            "on_nonfinite": self.on_nonfinite,
            "jit_compile": self.jit_compile,
            "solver": self.solver,
            "step_schedule": self.step_schedule,
            "noise_distribution": self.noise_distribution,
        }

    def manifest_settings(self, dtype, step_size=None):
        """The settings a streaming manifest records and a resumed run must match.

        The keys are those of the first release's manifests, so shard
        directories written then still resume; `solver`, `step_schedule` and
        `noise_distribution` are recorded only when they are not the defaults.
        `step_size` is the resolved float of an `"auto"` setting (the number
        that determines the output).
        """
        from dgflow_tf import divergences as divergences_lib
        from dgflow_tf import priors as priors_lib

        return {
            "divergence": divergences_lib.serialize(self.divergence),
            "step_size": self.step_size if step_size is None else step_size,
            "entropy_weight": self.entropy_weight,
            "num_steps": self.num_steps,
            "space": self.space,
            "latent_shape": None if self.latent_shape is None else list(self.latent_shape),
            "latent_prior": priors_lib.serialize(self.latent_prior),
            "boundary": self.boundary,
            "on_nonfinite": self.on_nonfinite,
            "dtype": dtype,
            **({} if self.solver == "euler" else {"solver": self.solver}),
            **({} if self.step_schedule == "constant" else {"step_schedule": self.step_schedule}),
            **(
                {} if self.noise_distribution == "normal" else {"noise_distribution": self.noise_distribution}
            ),
        }


def check_step_size(value):
    """A positive finite float `step_size`; a string other than `"auto"` gets an error naming it."""
    from dgflow_tf._validation import check_positive_float

    if isinstance(value, str):
        raise ValueError(
            f"`step_size` must be 'auto' or a positive finite number. Received: step_size={value!r}"
        )
    return check_positive_float(value, "step_size")
