"""MkDocs hook: publish the benchmarks' result files and figures with the site.

The benchmark pages (`docs/benchmarks/`) include `benchmarks/results/*.md` with lines of the form

    --8<-- "benchmarks/results/NAME.md"

This hook inlines them itself, before Markdown runs, so that it can fit them into the page:

- each heading of an included file goes one level down (its `# Title` becomes a `## ` section of
  the page), so the page keeps one title and its table of contents lists every result;
- relative links in an included file (its figures, e.g. `mnist/dcgan.png`) are rewritten to
  `results/...`, where `on_files` publishes every `benchmarks/results/**/*.png`: at
  `benchmarks/results/` in the site, without a second copy in the repository.
"""

import os
import re

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
_INCLUDE = re.compile(r'^--8<-- "benchmarks/results/([^"]+\.md)"\s*$', re.M)
_LINK = re.compile(r"(\]\()(?!https?:|#|/|results/)([^)\s]+)(\))")


def on_files(files, config):
    for directory, _, names in os.walk(RESULTS):
        for name in sorted(names):
            if name.endswith(".png"):
                path = os.path.relpath(os.path.join(directory, name), ROOT)
                files.append(File(path, ROOT, config["site_dir"], config["use_directory_urls"]))
    return files


def _demoted(text):
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append("#" + line if not fenced and line.startswith("#") else line)
    return "\n".join(lines)


def inline(markdown):
    """`markdown` with every results include replaced by the file's text, headings demoted, links rebased."""

    def include(match):
        with open(os.path.join(RESULTS, match.group(1)), encoding="utf-8") as file:
            text = file.read()
        return _LINK.sub(r"\1results/\2\3", _demoted(text))

    return _INCLUDE.sub(include, markdown)


def on_page_markdown(markdown, page, config, files):
    return inline(markdown)
