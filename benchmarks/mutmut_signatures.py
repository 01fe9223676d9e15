"""A pytest plugin for mutation runs: give each mutmut trampoline the signature of its function.

mutmut replaces every mutated function with a `(*args, **kwargs)` trampoline. `functools.wraps`
keeps `inspect.signature` right, but not `inspect.getfullargspec`, which Keras's `Operation.__new__`
reads on a layer's `__init__`: every Keras layer with a mutated `__init__` fails to construct, and
each of its mutants would count as killed by a crash, not by a test. Setting `__signature__`, which
`getfullargspec` honours, on `__init__` restores the argument list. `benchmarks/mutation.py` loads this with
`-p mutmut_signatures`, before the mutated package is imported.
"""

import inspect

from mutmut.mutation import trampoline

_wrap_in_trampoline = trampoline.wrap_in_trampoline


def _wrap_with_signature(mutants, **options):
    decorate = _wrap_in_trampoline(mutants, **options)

    def decorate_with_signature(function):
        wrapper = decorate(function)
        # Only `__init__`: `functools.wraps` copies `__dict__`, so a `__signature__` on a method would
        # follow it into Keras's wrapper of the bound `build`, self included.
        if function.__name__ == "__init__":
            wrapper.__signature__ = inspect.signature(function)
        return wrapper

    return decorate_with_signature


if getattr(trampoline.wrap_in_trampoline, "__name__", "") != "_wrap_with_signature":
    trampoline.wrap_in_trampoline = _wrap_with_signature
