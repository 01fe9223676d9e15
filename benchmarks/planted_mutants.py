"""Planted bugs in the core: plausible mistakes, one at a time, and the test that catches each.

These are hand-written, domain-specific mutants (a noise keyed by batch row, a DOT cost squared) that
a generic tool does not generate; `benchmarks/mutation.py` runs mutmut's generated mutants over the
whole package.

Each mutant replaces one snippet of `divergences`, the engine, `noise`, `baselines/` or `metrics/` with a
plausible mistake (a sign, a missing factor, an off-by-one, a swapped argument, a dropped term), runs the
tests that cover that module against a scratch copy of the package, and records whether a test failed
and which one first. A surviving mutant is either a gap in the tests or an equivalent mutant (a change
that cannot alter any result); equivalent ones are marked as such, with the reason.

Reproduce (2 CPU cores; about 11 minutes):

    python benchmarks/planted_mutants.py

Writes benchmarks/results/planted_mutants.json and .md. `--only N ...` runs some.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Mutant(NamedTuple):
    name: str
    path: str
    original: str
    replacement: str
    tests: tuple
    equivalent: str = ""  # why the mutant cannot change any result, if it cannot


ENGINE_TESTS = ("tests/test_engine.py", "tests/test_refinement_numerics.py")
NOISE_TESTS = ("tests/test_noise.py", "tests/test_refinement_numerics.py", "tests/test_refinement_model.py")
BASELINE_TESTS = ("tests/test_baselines.py",)
METRIC_TESTS = ("tests/test_image_metrics.py", "tests/test_datasets_and_metrics.py")

MUTANTS = [
    # -- the engine ---------------------------------------------------------------------------
    Mutant(
        "drift sign",
        "dgflow_tf/engine.py",
        "    return gradient, samples, logits",
        "    return -gradient, samples, logits",
        ENGINE_TESTS,
    ),
    Mutant(
        "noise std without the 2",
        "dgflow_tf/engine.py",
        "noise_std = math.sqrt(2.0 * entropy_weight * step_size)",
        "noise_std = math.sqrt(entropy_weight * step_size)",
        ENGINE_TESTS,
    ),
    Mutant(
        "K - 1 steps",
        "dgflow_tf/engine.py",
        "        lambda k, *_: k < num_steps,",
        "        lambda k, *_: k < num_steps - 1,",
        ENGINE_TESTS,
    ),
    Mutant(
        "half the step size",
        "dgflow_tf/engine.py",
        "proposal = states + tf.constant(step_size, dtype) * v",
        "proposal = states + tf.constant(0.5 * step_size, dtype) * v",
        ENGINE_TESTS,
    ),
    Mutant(
        "noise of step 0 at every step",
        "dgflow_tf/engine.py",
        "noise=lambda k: noise_lib.step_noise_at(seed, positions, k, event_shape, dtype)",
        "noise=lambda k: noise_lib.step_noise_at(seed, positions, 0, event_shape, dtype)",
        ENGINE_TESTS,
    ),
    Mutant(
        "noise keyed by batch row, not position",
        "dgflow_tf/engine.py",
        "noise=lambda k: noise_lib.step_noise_at(seed, positions, k, event_shape, dtype)",
        "noise=lambda k: noise_lib.step_noise_at(seed, tf.range(tf.size(positions)), k, event_shape, dtype)",
        ENGINE_TESTS + ("tests/test_refinement_model.py",),
    ),
    Mutant(
        "freeze at the proposal, not the last finite state",
        "dgflow_tf/engine.py",
        "last_good = where_per_sample(active & state_ok, flow.states, flow.last_good)",
        "last_good = where_per_sample(active & state_ok, proposal, flow.last_good)",
        ("tests/test_faults.py",),
    ),
    Mutant(
        "record the proposal instead of the state",
        "dgflow_tf/engine.py",
        "lambda: record(arrays, k // trajectory_every, (flow.states, samples, logits)),",
        "lambda: record(arrays, k // trajectory_every, (proposal, samples, logits)),",
        ENGINE_TESTS,
    ),
    Mutant(
        "no fall-back for a non-finite final output",
        "dgflow_tf/engine.py",
        "newly_bad = (flow.nonfinite_step < 0) & ~all_finite_per_sample(samples)",
        "newly_bad = tf.zeros_like(flow.nonfinite_step, tf.bool)",
        ("tests/test_faults.py",),
    ),
    Mutant(
        "drift scale not stopped",
        "dgflow_tf/engine.py",
        "scale = tf.stop_gradient(divergence.drift_scale(logits))",
        "scale = divergence.drift_scale(logits)",
        ENGINE_TESTS,
        equivalent="the scale is passed as output_gradients, which the tape never differentiates",
    ),
    # -- noise and seeds ----------------------------------------------------------------------
    Mutant(
        "one noise for every step",
        "dgflow_tf/noise.py",
        "step_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int64))",
        "step_seed = tf.random.experimental.stateless_fold_in(seed, tf.constant(0, tf.int64))",
        NOISE_TESTS,
    ),
    Mutant(
        "noise ignores the seed",
        "dgflow_tf/noise.py",
        "step_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int64))",
        "step_seed = tf.random.experimental.stateless_fold_in(tf.constant([1, 2], tf.int32), "
        "tf.cast(step, tf.int64))",
        NOISE_TESTS,
    ),
    Mutant(
        "row within block from the wrong end",
        "dgflow_tf/noise.py",
        "blocks, row_in_block = positions // rows, positions % rows",
        "blocks, row_in_block = positions // rows, (rows - 1) - positions % rows",
        NOISE_TESTS,
        equivalent="a fixed permutation of rows within a block: still one independent draw per position",
    ),
    # -- divergences --------------------------------------------------------------------------
    Mutant(
        "JS scale sigmoid(-d)",
        "dgflow_tf/divergences.py",
        "return tf.math.sigmoid(logits)",
        "return tf.math.sigmoid(-logits)",
        ("tests/test_divergences.py",) + ENGINE_TESTS,
    ),
    Mutant(
        "logD scale sigmoid(d)",
        "dgflow_tf/divergences.py",
        "return tf.math.sigmoid(-logits)",
        "return tf.math.sigmoid(logits)",
        ("tests/test_divergences.py",) + ENGINE_TESTS,
    ),
    Mutant(
        "chi2 scale 2 exp(d)",
        "dgflow_tf/divergences.py",
        "return 2.0 * tf.math.exp(-logits)",
        "return 2.0 * tf.math.exp(logits)",
        ("tests/test_divergences.py",) + ENGINE_TESTS,
    ),
    Mutant(
        "f-divergence scale without the r",
        "dgflow_tf/divergences.py",
        "return ratio * self._second_derivative(ratio)",
        "return self._second_derivative(ratio)",
        ("tests/test_divergences.py",) + ENGINE_TESTS,
    ),
    # -- DOT ------------------------------------------------------------------------------------
    Mutant(
        "DOT cost squared",
        "dgflow_tf/baselines/dot.py",
        "cost = tf.sqrt(tf.square(_flat_norm(states - targets)) + delta_sq)",
        "cost = tf.square(_flat_norm(states - targets)) + delta_sq",
        BASELINE_TESTS,
    ),
    Mutant(
        "DOT k_eff the mean over pairs",
        "dgflow_tf/baselines/dot.py",
        "return float(np.max(differences / distances))",
        "return float(np.mean(differences / distances))",
        BASELINE_TESTS,
    ),
    Mutant(
        "DOT critic term sign",
        "dgflow_tf/baselines/dot.py",
        "return cost - tf.math.divide_no_nan(self.critic(generate(states)), k_eff)",
        "return cost + tf.math.divide_no_nan(self.critic(generate(states)), k_eff)",
        BASELINE_TESTS,
    ),
    Mutant(
        "DOT without Adam's bias correction",
        "dgflow_tf/baselines/dot.py",
        "m_hat = m / (1.0 - tf.pow(beta_1, t))",
        "m_hat = m",
        BASELINE_TESTS,
    ),
    # -- MH-GAN -------------------------------------------------------------------------------
    Mutant(
        "MH-GAN calibration ignored",
        "dgflow_tf/baselines/mh.py",
        "        return slope * np.asarray(logits, np.float64) + intercept",
        "        return np.asarray(logits, np.float64)",
        BASELINE_TESTS,
    ),
    Mutant(
        "MH-GAN acceptance reversed",
        "dgflow_tf/baselines/mh.py",
        "accept = np.log(uniforms[:, step]) < logits[:, step] - state",
        "accept = np.log(uniforms[:, step]) < state - logits[:, step]",
        BASELINE_TESTS,
    ),
    Mutant(
        "MH-GAN returns the last proposal",
        "dgflow_tf/baselines/mh.py",
        "                index = np.where(accept, step, index)",
        "                index = np.full_like(index, step)",
        BASELINE_TESTS,
    ),
    # -- DRS -----------------------------------------------------------------------------------
    Mutant(
        "DRS accepts with sigmoid(-F)",
        "dgflow_tf/baselines/drs.py",
        "return _sigmoid(drs_logit(logits, max_logit, self.gamma, self.epsilon))",
        "return _sigmoid(-drs_logit(logits, max_logit, self.gamma, self.epsilon))",
        BASELINE_TESTS,
    ),
    Mutant(
        "DRS gamma from the logits, not F",
        "dgflow_tf/baselines/drs.py",
        "np.quantile(drs_logit(logits, self.max_logit, 0.0, self.epsilon), self.gamma_quantile)",
        "np.quantile(logits, self.gamma_quantile)",
        BASELINE_TESTS,
    ),
    Mutant(
        "DRS drops the log(1 - exp) term",
        "dgflow_tf/baselines/drs.py",
        "return shifted - _log1mexp(shifted - epsilon) - gamma",
        "return shifted - gamma",
        BASELINE_TESTS,
    ),
    # -- DDLS ----------------------------------------------------------------------------------
    Mutant(
        "DDLS prior pushes outward",
        "dgflow_tf/baselines/ddls.py",
        "return -0.5 * tf.reduce_sum(tf.square(latents), axis=axes)",
        "return 0.5 * tf.reduce_sum(tf.square(latents), axis=axes)",
        BASELINE_TESTS,
    ),
    Mutant(
        "DDLS step not halved",
        "dgflow_tf/baselines/ddls.py",
        "step_size=langevin_step / 2.0,",
        "step_size=langevin_step,",
        BASELINE_TESTS,
    ),
    # -- metrics ---------------------------------------------------------------------------------
    Mutant(
        "FID without the 2 on the cross term",
        "dgflow_tf/metrics/images.py",
        "np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root",
        "np.trace(cov_a) + np.trace(cov_b) - trace_root",
        METRIC_TESTS,
    ),
    Mutant(
        "FID without the eigenvalue cutoff",
        "dgflow_tf/metrics/images.py",
        "return np.where(values > tolerance, values, 0.0)",
        "return np.clip(values, 0.0, None)",
        METRIC_TESTS,
    ),
    Mutant(
        "KID with the diagonal",
        "dgflow_tf/metrics/images.py",
        "(k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))",
        "k_aa.sum() / (m * (m - 1))",
        METRIC_TESTS,
    ),
    Mutant(
        "KID error bar with ddof=1",
        "dgflow_tf/metrics/images.py",
        "return float(estimates.mean()), float(estimates.std())",
        "return float(estimates.mean()), float(estimates.std(ddof=1))",
        METRIC_TESTS,
    ),
    Mutant(
        "classifier score: mean of exp",
        "dgflow_tf/metrics/images.py",
        "scores.append(np.exp(kl.mean()))",
        "scores.append(np.mean(np.exp(kl)))",
        METRIC_TESTS,
    ),
    Mutant(
        "HQ at 3 std",
        "dgflow_tf/metrics/synthetic.py",
        "def high_quality_fraction(samples, modes, std, num_std=4.0):",
        "def high_quality_fraction(samples, modes, std, num_std=3.0):",
        METRIC_TESTS,
    ),
    Mutant(
        "KDE fitted to the reference",
        "dgflow_tf/metrics/synthetic.py",
        'kde = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(samples)\n'
        "    return float(np.mean(kde.score_samples(reference)))",
        'kde = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(reference)\n'
        "    return float(np.mean(kde.score_samples(samples)))",
        METRIC_TESTS,
    ),
    Mutant(
        "OT with squared distances",
        "dgflow_tf/metrics/synthetic.py",
        'cost = ot.dist(samples, reference, metric="euclidean")',
        'cost = ot.dist(samples, reference, metric="sqeuclidean")',
        METRIC_TESTS,
    ),
    Mutant(
        "sweep ranks the wrong way",
        "dgflow_tf/tuning.py",
        "sign = 1.0 if self.higher_is_better else -1.0",
        "sign = -1.0 if self.higher_is_better else 1.0",
        ("tests/test_tuning.py",),
    ),
]


def run_mutant(mutant, tree, timeout):
    """Applies `mutant` in `tree`, runs its tests there, restores the file; returns a result dict."""
    path = os.path.join(tree, mutant.path)
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    count = source.count(mutant.original)
    if count != 1:
        return {"status": "error", "detail": f"the original snippet occurs {count} times"}
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(source.replace(mutant.original, mutant.replacement))
    started = time.perf_counter()
    try:
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests]
        env = {**os.environ, "PYTHONPATH": tree, "TF_CPP_MIN_LOG_LEVEL": "3"}
        try:
            completed = subprocess.run(
                command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout
            )
            output, code = completed.stdout + completed.stderr, completed.returncode
        except subprocess.TimeoutExpired:
            output, code = "", "timeout"
    finally:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
    failed = re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)
    killed = code == "timeout" or code != 0
    return {
        "status": "killed" if killed else "survived",
        "killed_by": failed[0] if failed else ("timeout" if code == "timeout" else ""),
        "seconds": time.perf_counter() - started,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", type=int, nargs="+", default=None, help="indices of mutants to run")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per mutant")
    parser.add_argument(
        "--output", default=os.path.join(HERE, "results", "planted_mutants"), help="path stem"
    )
    args = parser.parse_args(argv)
    chosen = list(enumerate(MUTANTS)) if args.only is None else [(i, MUTANTS[i]) for i in args.only]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tree = os.path.join(scratch, "tree")
        shutil.copytree(
            ROOT, tree, ignore=shutil.ignore_patterns(".git", ".venv", ".ci-venv", ".cache", "results")
        )
        for index, mutant in chosen:
            result = run_mutant(mutant, tree, args.timeout)
            rows.append(
                {
                    "index": index,
                    "name": mutant.name,
                    "module": mutant.path,
                    "equivalent": mutant.equivalent,
                    **result,
                }
            )
            print(f"[{index}] {mutant.name}: {result['status']} {result.get('killed_by', '')}", flush=True)
    scored = [r for r in rows if not r["equivalent"] and r["status"] in ("killed", "survived")]
    kill_rate = sum(r["status"] == "killed" for r in scored) / max(len(scored), 1)
    report = {
        "command": "python benchmarks/planted_mutants.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "kill_rate": kill_rate,
        "non_equivalent": len(scored),
        "rows": rows,
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    lines = [
        "# Planted bugs in the core",
        "",
        f"Command: `{report['command']}`. {len(rows)} mutants; kill rate {100 * kill_rate:.1f} % of the "
        f"{len(scored)} non-equivalent ones. Each mutant runs the tests that cover its module.",
        "",
        "| # | mutant | module | result | first failing test | seconds |",
        "|---:|---|---|---|---|---:|",
    ]
    for r in rows:
        result = r["status"] + (f" (equivalent: {r['equivalent']})" if r["equivalent"] else "")
        lines.append(
            f"| {r['index']} | {r['name']} | `{r['module']}` | {result} | {r.get('killed_by', '')} | "
            f"{r.get('seconds', 0):.0f} |"
        )
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
