"""Loads a script of `benchmarks/` as a module, for the tests of its arithmetic and rules.

The scripts are not a package: each is loaded from its file under a name of its own, with
`benchmarks/` on `sys.path` while it runs, because some import their neighbours
(`auto_rule_sweep` imports `quality_per_eval`).
"""

import importlib.util
import os
import sys

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def load_benchmark(name, module_name=None):
    """The module of `benchmarks/<name>.py`, loaded afresh as `module_name` (default `<name>_benchmark`)."""
    spec = importlib.util.spec_from_file_location(
        module_name or f"{name}_benchmark", os.path.join(BENCHMARKS, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, BENCHMARKS)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(BENCHMARKS)
    return module
