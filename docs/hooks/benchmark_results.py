"""MkDocs hook: publish the benchmarks' result files and figures with the site.

The benchmark pages (`docs/benchmarks/`) include `benchmarks/results/*.md` with lines of the form

    --8<-- "benchmarks/results/NAME.md"

This hook inlines them itself, before Markdown runs, so that it can fit them into the page:

- each heading of an included file goes one level down (its `# Title` becomes a `## ` section of
  the page), so the page keeps one title and its table of contents lists every result;
- relative links in an included file (its figures, e.g. `mnist/dcgan.png`) are rewritten to
  `results/...`, where `on_files` publishes every `benchmarks/results/**/*.png`: at
  `benchmarks/results/` in the site, without a second copy in the repository;
- each included file ends with the date and commit that last wrote it (from git), so a reader
  can tell a table measured today from one measured on an older engine.
"""

import os
import re
import subprocess

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


def last_written(path):
    """`"YYYY-MM-DD, commit abc1234"` of the last commit that changed `path`, or `None` outside git."""
    try:
        completed = subprocess.run(
            ["git", "log", "-1", "--format=%cs, commit %h", "--", path],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        stamp = completed.stdout.strip()
        if completed.returncode != 0 or not stamp:
            return None
        dirty = subprocess.run(["git", "diff", "--quiet", "--", path], cwd=ROOT, timeout=30).returncode
    except (OSError, subprocess.SubprocessError):
        return None
    return stamp + (", changed since" if dirty else "")


def inline(markdown):
    """`markdown` with every results include replaced by the file's text, headings demoted, links rebased."""

    def include(match):
        path = os.path.join(RESULTS, match.group(1))
        with open(path, encoding="utf-8") as file:
            text = _LINK.sub(r"\1results/\2\3", _demoted(file.read()))
        stamp = last_written(path)
        if stamp:
            text += f"\n\n*`benchmarks/results/{match.group(1)}`, last written {stamp}.*\n"
        return text

    return _INCLUDE.sub(include, markdown)


def on_page_markdown(markdown, page, config, files):
    return inline(markdown)
