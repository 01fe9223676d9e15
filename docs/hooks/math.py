"""MkDocs hook: typeset the pages' LaTeX as MathML when the site is built, so no script or CDN is needed.

`pymdownx.arithmatex` (generic mode) keeps `$...$` and `$$...$$` away from Markdown and wraps them
as `<span class="arithmatex">\\(...\\)</span>` and `<div class="arithmatex">\\[...\\]</div>`. This
hook replaces each with the MathML that `latex2mathml` writes; browsers render MathML natively
(Chromium since 109, Firefox, Safari), so the formulas show offline and in a saved page. A formula
that `latex2mathml` cannot parse fails the build and names the page.
"""

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _typeset(latex, display, page):
    try:
        mathml = convert(html.unescape(latex).strip(), display=display)
    except Exception as error:  # latex2mathml raises several kinds; each is a bad formula
        raise ValueError(f"{page.file.src_path}: cannot typeset ${latex}$: {error}") from error
    # The source as an annotation, for copy-paste and screen readers that prefer TeX.
    source = html.escape(html.unescape(latex).strip())
    return _annotate(mathml, f'<annotation encoding="application/x-tex">{source}</annotation>')


def _annotate(mathml, annotation):
    # <math><mrow>...</mrow></math> -> <math><semantics><mrow>...</mrow><annotation/></semantics></math>
    opening = mathml.index(">") + 1
    closing = mathml.rindex("</math>")
    return (
        f"{mathml[:opening]}<semantics><mrow>{mathml[opening:closing]}</mrow>{annotation}</semantics></math>"
    )


def on_page_content(content, page, config, files):
    content = _BLOCK.sub(
        lambda match: f'<div class="math-display">{_typeset(match.group(1), "block", page)}</div>', content
    )
    return _INLINE.sub(lambda match: _typeset(match.group(1), "inline", page), content)
