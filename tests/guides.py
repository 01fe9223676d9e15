"""Runs a documentation guide the way a reader would: its Python blocks in order, in one namespace.

A guide is a Markdown page whose ```python blocks run top to bottom. A ```text block right after a
Python block is the output the reader is shown; `run_guide` returns it beside what the block printed,
and `outputs_agree` compares them: the same words, and numbers equal to within 5 % (or 0.02), since
FIDs and step sizes move in their last digit across CPUs and TensorFlow versions.

To run a guide and write its real outputs (and pictures) into the page:

    python tests/guides.py docs/guides/keras-gan.md --write

The guide runs in a scratch directory; its pictures are copied to the guide's `img/` folder, where
the page links them.
"""

import argparse
import contextlib
import io
import os
import pathlib
import re
import shutil
import tempfile

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def blocks(markdown):
    """`[(code, expected_output or None, (start, end) of the output block or None)]` of a guide."""
    fences = list(_FENCE.finditer(markdown))
    result = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        adjacent = following is not None and markdown[fence.end() : following.start()].strip() == ""
        if adjacent and following.group(1) == "text":
            result.append((fence.group(2), following.group(2), following.span()))
        else:
            result.append((fence.group(2), None, None))
    return result


def run_guide(path, cwd):
    """Executes the guide's Python blocks in `cwd`; `[(code, expected, printed)]` in order."""
    markdown = pathlib.Path(path).read_text(encoding="utf-8")
    namespace = {"__name__": "__guide__"}
    outcomes = []
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        for code, expected, _ in blocks(markdown):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - the guide is ours
            outcomes.append((code, expected, printed.getvalue()))
    finally:
        os.chdir(previous)
    return outcomes


def outputs_agree(expected, printed, rel=0.05, abs_=0.02):
    """Whether `printed` reads as `expected`: the same text around numbers that agree to `rel`/`abs_`."""
    if _NUMBER.sub("#", expected.strip()) != _NUMBER.sub("#", printed.strip()):
        return False
    for want, got in zip(_NUMBER.findall(expected), _NUMBER.findall(printed), strict=True):
        want, got = float(want), float(got)
        if abs(want - got) > max(abs_, rel * abs(want)):
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("guide")
    parser.add_argument("--write", action="store_true", help="put the real outputs into the page")
    args = parser.parse_args()
    path = pathlib.Path(args.guide).resolve()
    images = path.parent / "img"
    images.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:  # modules and exports a guide writes stay out of docs/
        outcomes = run_guide(path, scratch)
        for picture in pathlib.Path(scratch).glob("*.png"):
            shutil.copy(picture, images / picture.name)
    markdown = path.read_text(encoding="utf-8")
    spans = [span for _, _, span in blocks(markdown)]
    for (code, _expected, printed), span in reversed(list(zip(outcomes, spans, strict=True))):
        print(code.splitlines()[0], "->", printed.strip()[:200])
        if args.write and span is not None:
            markdown = markdown[: span[0]] + f"```text\n{printed.rstrip()}\n```\n" + markdown[span[1] :]
    if args.write:
        path.write_text(markdown, encoding="utf-8")


if __name__ == "__main__":
    main()
