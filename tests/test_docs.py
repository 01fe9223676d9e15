"""The documentation site: it builds strictly, and a browser shows the API page with its arguments."""

import functools
import http.server
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed (pip install -e '.[docs]')")
    built = os.environ.get("DGFLOW_TF_SITE_DIR")
    if built and (pathlib.Path(built) / "index.html").exists():
        return pathlib.Path(built)  # .ci/run built it with --strict already
    directory = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return directory


BENCHMARK_PAGES = ("table1", "images", "text", "step-size", "speed", "mutation")


def test_every_page_is_built_and_no_result_is_pending(site):
    for page in ("index.html", "benchmarks/index.html", "errors/index.html", "method/index.html"):
        assert (site / page).exists(), page
    for page in (
        "guides/choosing-step-size/index.html",
        "guides/tfhub/index.html",
        "api/refinement/index.html",
    ):
        assert (site / page).exists(), page
    for name in BENCHMARK_PAGES:
        html = (site / "benchmarks" / name / "index.html").read_text(encoding="utf-8")
        assert "(pending)" not in html, name
    assert "WGAN-GP" in (site / "benchmarks" / "table1" / "index.html").read_text(encoding="utf-8")


def test_benchmark_pages_have_one_title_a_contents_list_and_their_figures(site):
    # Included result files bring their own "# " titles; the site demotes them to sections, so each
    # page has one <h1> and a table of contents with an entry per result, and every figure resolves.
    for name in BENCHMARK_PAGES:
        page = site / "benchmarks" / name / "index.html"
        html = page.read_text(encoding="utf-8")
        assert html.count("<h1") == 1, name
        toc = html[html.index("md-nav--secondary") :]
        assert toc[: toc.index("</nav>")].count("md-nav__link") >= (
            4 if name in ("table1", "speed") else 1
        ), name
        # Every included result says when it was last written, so an old table reads as old.
        includes = (ROOT / "docs" / "benchmarks" / f"{name}.md").read_text(encoding="utf-8").count("--8<--")
        if (ROOT / ".git").exists():
            assert html.count(", last written 20") == includes, name
        for source in re.findall(r'<img[^>]+src="([^"]+)"', html):
            if not source.startswith(("http", "data:")):
                assert (page.parent / source).resolve().exists(), (name, source)


def _browse(site, page, tmp_path, screenshot=None, window=None):
    """The DOM that headless Chromium renders for `page` of the site, served over HTTP on localhost."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: the OS picks a free one
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            *([f"--window-size={window}"] if window else []),
        ]
        completed = subprocess.run(
            [_chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
        )
        if screenshot is not None:
            subprocess.run(
                [_chromium(), *flags, "--window-size=1280,2000", f"--screenshot={screenshot}", url],
                capture_output=True,
                timeout=120,
            )
    finally:
        server.shutdown()
        server.server_close()
    return completed.stdout


needs_chromium = pytest.mark.skipif(
    _chromium() is None, reason="no Chromium here (Debian: apt-get install chromium)"
)


@needs_chromium
def test_a_browser_renders_the_refinement_model_api_with_its_arguments(site, tmp_path):
    screenshot = tmp_path / "api.png"
    dom = _browse(site, "api/refinement/", tmp_path, screenshot)
    assert "dgflow_tf.refinement.RefinementModel" in dom
    # The rendered parameter table: every argument with its description.
    for argument, description in (
        ("step_size", "positive float"),
        ("entropy_weight", "deterministic"),
        ("num_steps", "integer &gt;= 0"),
        ("divergence", "convex function"),
        ("on_nonfinite", "NonFiniteRefinementError"),
    ):
        assert f"<code>{argument}</code>" in dom, argument
        assert description in dom, description
    assert screenshot.stat().st_size > 10_000


@needs_chromium
def test_api_examples_read_as_code_and_returns_as_one_row(site, tmp_path):
    dom = _browse(site, "api/refinement/", tmp_path)
    # A docstring's `>>>` lines outside a code block become nested Markdown blockquotes.
    assert "<blockquote>" not in dom
    code_blocks = re.findall(r"<code[^>]*>(.*?)</code>", dom, flags=re.S)
    text = [re.sub(r"<[^>]+>", "", block) for block in code_blocks]
    assert any("keras.Sequential" in block and "model.predict" in block for block in text)
    dom = _browse(site, "api/streaming/", tmp_path)
    returns = dom[dom.index('id="dgflow_tf.streaming.refine_to_shards"') :]
    returns = returns[returns.index("Returns") :]
    table = returns[: returns.index("</table>")]
    assert table.count('class="doc-section-item"') == 1  # one value, one row


GUIDE_PAGES = (
    "",
    "guides/keras-gan/",
    "guides/vae-flow-corrector/",
    "guides/tfhub/",
    "guides/export-serving/",
    "guides/streaming-distributed/",
    "guides/choosing-step-size/",
    "method/",
    "reproducibility/",
)


@needs_chromium
def test_no_paragraph_reads_as_a_literal_bullet_list(site, tmp_path):
    # A list right after a code fence, without a blank line, renders as loose text of "- " items.
    for page in GUIDE_PAGES:
        dom = re.sub(r"<pre.*?</pre>", "", _browse(site, page, tmp_path), flags=re.S)
        text_nodes = [node.lstrip() for node in re.findall(r">([^<]+)<", dom)]
        assert not [node[:60] for node in text_nodes if node.startswith("- ")], page


@needs_chromium
def test_api_pages_document_each_object_once_and_hide_engine_plumbing(site, tmp_path):
    dom = _browse(site, "api/adapters/", tmp_path)
    assert dom.count('id="dgflow_tf.adapters.hub.gan.load_gan"') == 1
    assert 'id="dgflow_tf.adapters.hub.load_gan"' not in dom  # the package re-exports it: shown once
    dom = _browse(site, "api/refinement/", tmp_path)
    for plumbing in ("flow_parts", "flow", "run_batch"):
        assert f'id="dgflow_tf.refinement.RefinementModel.{plumbing}"' not in dom
    assert 'id="dgflow_tf.refinement.RefinementModel.calibrate"' in dom
    # The host-side methods come from a mixin (dgflow_tf.predictor) and are shown on the model;
    # what keras.Model itself provides is not.
    for method in ("predict", "refine", "generate", "sample_latents", "export", "evaluations_per_sample"):
        assert dom.count(f'id="dgflow_tf.refinement.RefinementModel.{method}"') == 1, method
    assert 'id="dgflow_tf.refinement.RefinementModel.fit"' not in dom


_MEASURE = """
<script>
(() => {
  const content = document.querySelector("article.md-content__inner").getBoundingClientRect();
  const boxes = [...document.querySelectorAll("article math")].map((m) => m.getBoundingClientRect());
  const result = {
    math: boxes.length,
    empty: boxes.filter((b) => !(b.width > 0 && b.height > 0)).length,
    beyond: boxes.filter((b) => b.right > content.right + 1).length,
    cut: [...document.querySelectorAll("article pre > code")]
      .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent.slice(0, 60)),
    remote: [...document.querySelectorAll("script[src], link[href]")]
      .map((e) => e.src || e.href).filter((u) => /^https?:/.test(u) && !u.includes("127.0.0.1")),
  };
  document.body.setAttribute("data-measure", JSON.stringify(result));
})();
</script>
"""


def _measure(site, page, tmp_path):
    """What the browser laid out on `page` at 1280 px: math boxes, cut-off code lines, remote assets."""
    import html as html_lib
    import json

    source = site / page / "index.html"
    probe = source.parent / "_measure.html"
    probe.write_text(source.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), "utf-8")
    try:
        dom = _browse(site, f"{page}_measure.html", tmp_path, window="1280,2000")
    finally:
        probe.unlink()
    return json.loads(html_lib.unescape(re.search(r'data-measure="([^"]*)"', dom).group(1)))


@needs_chromium
@pytest.mark.parametrize("page", [page for page in GUIDE_PAGES if page != "method/"])
def test_no_code_line_of_a_guide_is_cut_off_at_1280_px(site, tmp_path, page):
    # Code wider than its box scrolls sideways, and a reader sees a line cut in the middle.
    measured = _measure(site, page, tmp_path)
    assert measured["cut"] == [], measured["cut"]
    assert measured["remote"] == [], measured["remote"]


@needs_chromium
def test_the_method_page_typesets_its_math_offline_and_cuts_nothing_off(site, tmp_path):
    # Equations used to be ASCII in code blocks, two of them wider than the page; now LaTeX is
    # turned into MathML when the site is built, which the browser lays out with no script.
    measured = _measure(site, "method/", tmp_path)
    assert measured["math"] >= 40, measured
    assert measured["empty"] == 0 and measured["beyond"] == 0, measured
    assert measured["cut"] == [], measured
    assert measured["remote"] == [], measured


@needs_chromium
def test_the_refinement_model_api_shows_a_type_for_every_argument(site, tmp_path):
    # The Type column was empty for every argument: the types were in prose only.
    dom = _browse(site, "api/refinement/", tmp_path)
    section = dom[dom.index("Parameters:") :]
    table = section[: section.index("</table>")]
    rows = re.findall(r'<tr[^>]*class="doc-section-item"[^>]*>(.*?)</tr>', table, flags=re.S)
    assert len(rows) >= 15, len(rows)
    for row in rows:
        cells = [re.sub(r"<[^>]+>|\s", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
        assert cells[1], f"no type for {cells[0]}"
    predict = dom[dom.index('id="dgflow_tf.refinement.RefinementModel.predict"') :]
    returns = predict[predict.index("Returns") :]
    assert "ndarray" in returns[: returns.index("</table>")]
