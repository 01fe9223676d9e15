"""MkDocs hook: publish the benchmarks' figures with the site.

The benchmark pages include `benchmarks/results/*.md` (pymdownx.snippets); their PNG figures live beside
them, outside `docs/`. This hook adds every `benchmarks/results/**/*.png` to the site at the same path below the site's
root, so the links inside the included result files resolve from the benchmarks page, without a second
copy in the repository.
"""

import os

from mkdocs.structure.files import File

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks")


def on_files(files, config):
    results = os.path.join(BENCHMARKS, "results")
    for directory, _, names in os.walk(results):
        for name in sorted(names):
            if name.endswith(".png"):
                path = os.path.relpath(os.path.join(directory, name), results)
                files.append(File(path, results, config["site_dir"], config["use_directory_urls"]))
    return files
