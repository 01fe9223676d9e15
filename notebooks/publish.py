"""Points the notebooks' "Open in Colab" badges and Colab install cells at a published copy.

Colab opens a notebook from a public GitHub repository, and installs the
library from wherever the notebook says. The notebooks are committed without
a badge and install `DGFLOW_TF_SOURCE = "dgflow_tf"` (a wheel uploaded to the
Colab session, or a package index), so no link in them points at an address
that does not exist. Once the project is published on GitHub, run

    python notebooks/publish.py --repository OWNER/NAME [--ref main]

which writes the badge under each notebook's title, sets `DGFLOW_TF_SOURCE`
to `git+https://github.com/OWNER/NAME@REF`, and writes each `.py` source and
(through jupytext) its `.ipynb` pair. Running it again replaces the badge
and the source instead of adding a second one.
"""

import argparse
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
_BADGE = re.compile(r"^# \[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n#\n", re.M)
_TITLE = re.compile(r"^(# %% \[markdown\]\n# # [^\n]*\n#\n)", re.M)
_SOURCE = re.compile(r'^DGFLOW_TF_SOURCE = "[^"]*"$', re.M)
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")


def publish(source, repository, ref="main"):
    """The text of notebook `source` (a jupytext .py) with its badge and install source for `repository`."""
    text = _BADGE.sub("", source.read_text(encoding="utf-8"))
    notebook = f"{repository}/blob/{ref}/notebooks/{source.with_suffix('.ipynb').name}"
    badge = (
        "# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{notebook})\n#\n"
    )
    text, titles = _TITLE.subn(lambda match: match.group(1) + badge, text, count=1)
    text, sources = _SOURCE.subn(f'DGFLOW_TF_SOURCE = "git+https://github.com/{repository}@{ref}"', text)
    if titles != 1 or sources != 1:
        raise ValueError(
            f"{source.name}: expected a markdown title cell and one `DGFLOW_TF_SOURCE = ...` line; "
            f"found {titles} and {sources}"
        )
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", required=True, help="OWNER/NAME on GitHub")
    parser.add_argument("--ref", default="main", help="branch or tag the badges open. Default: main")
    parser.add_argument("--directory", default=str(HERE), help="the notebooks' folder. Default: this one")
    args = parser.parse_args(argv)
    if not _REPOSITORY.match(args.repository):
        parser.error(f"--repository must look like OWNER/NAME. Received: {args.repository!r}")
    import jupytext

    for source in sorted(pathlib.Path(args.directory).glob("[0-9][0-9]_*.py")):
        source.write_text(publish(source, args.repository, args.ref), encoding="utf-8")
        jupytext.write(jupytext.read(source), source.with_suffix(".ipynb"))
        print(f"{source.name}: badge and install source point at {args.repository}@{args.ref}")


if __name__ == "__main__":
    main()
