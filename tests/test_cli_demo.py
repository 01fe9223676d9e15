"""`dgflow-tf demo` and `gaussian-demo` at their edges: captions, diverging rows, flag types."""

import io

import pytest

from dgflow_tf import cli
from dgflow_tf.cli.demo import _settings_line


def test_the_settings_caption_shows_each_methods_knob():
    settings = {
        "DGflow-KL-latent": {"step_size": 0.01, "num_steps": 25},
        "DOT": {"step_size": 0.1, "k_eff": 0.5},
        "DRS": {"gamma_quantile": 0.9},
        "DDLS": {"step_size": None, "learning_rate": 0.01},
        "base": {"num_steps": 0},
    }
    assert _settings_line(settings) == (
        "DGflow-KL-latent step_size=0.01; DOT step_size=0.1, k_eff=0.5; DRS gamma_quantile=0.9; "
        "DDLS learning_rate=0.01"
    )


def test_gaussian_demo_goes_on_after_a_divergence_that_diverges(capsys):
    # At step size 2 the exact, unbounded ratio blows KL up; JS (bounded drift) still has a row.
    out = io.StringIO()
    argv = ["gaussian-demo", "--num-samples", "200", "--step-size", "2", "--num-steps", "40"]
    assert cli.main(argv, out=out) == 0
    rows = [line for line in out.getvalue().splitlines() if line.startswith("DGflow-")]
    assert [row.split()[0] for row in rows] == ["DGflow-KL", "DGflow-JS", "DGflow-logD", "DGflow-chi2"]
    assert "diverged: 200 samples became NaN/Inf" in rows[0]
    assert "diverged" not in rows[1]
    # Refinement prints no Keras progress bar (its output goes to the terminal, not the table).
    assert "━" not in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--entropy-weight", "--step-size", "--num-samples", "--num-steps"])
def test_gaussian_demo_refuses_a_negative_setting_as_a_usage_error(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gaussian-demo", flag, "-0.5"], out=io.StringIO())
    assert exit_info.value.code == 2
    assert f"dgflow-tf gaussian-demo: error: argument {flag}: " in capsys.readouterr().err
