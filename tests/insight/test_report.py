"""The HTML report (``bptt.insight.report``, ``bptt report``): one self-contained file whose
images are all embedded and all render in a real browser (headless Chromium)."""

import base64
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from bptt.cli import main  # noqa: E402
from bptt.insight import data_uri, html_page, image_html, run_report_html  # noqa: E402
from bptt.io import append_jsonl, read_json  # noqa: E402
from helpers import skip_or_fail_in_ci  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MARKER = "bptt-images-rendered"


class Links(HTMLParser):
    """Every tag's attributes, to find what a page would load."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(page: str) -> list[tuple[str, dict]]:
    parser = Links()
    parser.feed(page)
    return parser.tags


def assert_self_contained(page: str) -> list[bytes]:
    """No external reference of any kind; every <img> a PNG data URI. Returns the PNGs."""
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert "url(" not in page and "@import" not in page  # nothing fetched from CSS either
    pngs = []
    for tag, attrs in parse(page):
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        if tag == "img":
            src = attrs["src"]
            assert src.startswith("data:image/png;base64,"), src[:40]
            png = base64.b64decode(src.split(",", 1)[1], validate=True)
            assert png[:8] == PNG_SIGNATURE
            pngs.append(png)
    return pngs


def fixture_events(T: int = 8, steps=(1, 2, 3, 4)) -> list[dict]:
    decay = list(np.exp(-np.arange(T)[::-1] * 1.0))
    return [
        {
            "event": "diagnostics",
            "step": s,
            "epoch": 0,
            "dh_norms": {"l0": decay},
            "dc_norms": {"l0": [d / 2 for d in decay]},
            "grad_norms": {"rnn.weight_hh_l0": 0.1},
            "update_ratios": {"rnn.weight_hh_l0": 1e-3},
        }
        for s in steps
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("report") / "run"
    argv = ["train", "addition", "--epochs", "2", "--train-size", "64", "--test-size", "40"]
    argv += ["--cell", "lstm", "--hidden-size", "6", "--run-dir", str(run)]
    assert main(argv) == 0
    for e in fixture_events():
        append_jsonl(run / "metrics.jsonl", e)
    return run


@pytest.fixture(scope="module")
def report(run) -> Path:
    assert main(["report", str(run)]) == 0
    return run / "report.html"


def test_report_is_one_self_contained_file_with_every_image_embedded(report):
    page = report.read_text(encoding="utf-8")
    pngs = assert_self_contained(page)
    # curves, gradient flow, dL/dh_t profile, states of l0
    assert len(pngs) == 4
    assert all(len(png) > 2000 for png in pngs)
    assert "Content-Security-Policy" in page and "img-src data:" in page


def test_report_shows_the_config_and_the_final_metrics_of_summary_json(run, report):
    page = report.read_text(encoding="utf-8")
    summary, config = read_json(run / "summary.json"), read_json(run / "config.json")
    for where in ("best", "final", "test"):
        assert f"{summary[where]['loss']:.6g}" in page, where
    assert "exact_sums" in page  # the addition task's own test metric
    assert ">hidden_size<" in page and f">{config['options']['hidden_size']}<" in page
    assert "Gradient flow through time" in page and "No diagnostics" not in page


def test_report_out_flag_and_a_run_without_diagnostics(run, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    lines = (bare / "metrics.jsonl").read_text().splitlines(keepends=True)
    (bare / "metrics.jsonl").write_text("".join(x for x in lines if "diagnostics" not in x))
    out = tmp_path / "elsewhere" / "page.html"
    assert main(["report", str(bare), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "--diagnostics N" in page
    assert len(assert_self_contained(page)) == 2  # curves and states only


def test_text_from_the_run_is_escaped_and_cannot_inject_markup():
    config = {"task": "text", "options": {"text": '<script>alert("x")</script>', "cell": "lstm"}}
    page = run_report_html("<b>run</b>", config, None, {}, sample="a < b & </pre><img src=x>")
    assert "<script>" not in page and "<img src=x>" not in page and "<b>run" not in page
    assert "&lt;script&gt;" in page and "a &lt; b &amp;" in page
    assert_self_contained(page)


def test_only_png_bytes_become_images():
    with pytest.raises(ValueError, match="PNG signature"):
        data_uri(b"GIF89a....")
    with pytest.raises(TypeError, match="bytes"):
        data_uri("data:image/png;base64,AAAA")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(0)
    words = np.array(["the", "cat", "sat", "on", "a", "mat"])
    (folder / "corpus.txt").write_text(" ".join(rng.choice(words, 200)), encoding="utf-8")
    run = folder / "run"
    argv = ["train", "text", "--text", folder / "corpus.txt", "--run-dir", run]
    argv += ["--hidden-size", "8", "--num-layers", "1", "--embedding-dim", "4"]
    argv += ["--seq-len", "10", "--batch-size", "4", "--epochs", "1"]
    assert main([str(a) for a in argv]) == 0
    return run


def test_text_report_includes_a_generated_sample(text_run, tmp_path):
    out = tmp_path / "text.html"
    assert main(["report", str(text_run), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    sample = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    assert len(sample) >= 400 and set(sample) <= set("thecasonm ")
    assert_self_contained(page)


# ----- in a real browser ------------------------------------------------------------------------


def chromium_or_skip() -> str:
    """Chromium's path; without it the test skips, except in CI, where it fails."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    skip_or_fail_in_ci(
        f"headless Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)",
        "CI must run this test, and .ci/run installs it",
    )


def rendered_images(page: str, folder: Path) -> tuple[int, int]:
    """(images that decoded to a picture, images) once Chromium has loaded ``page``.

    The report forbids scripts; this copy lets one inline script count, after the load event,
    the <img> elements that are complete with a natural width, and write the counts into the
    DOM that --dump-dom prints. Images stay limited to data: URIs, as in the report."""
    check = (
        "<script>window.addEventListener('load', function () {"
        "var all = document.images, ok = 0;"
        "for (var i = 0; i < all.length; i++) if (all[i].complete && all[i].naturalWidth > 0) ok++;"
        "var m = document.createElement('p'); m.id = '" + MARKER + "';"
        "m.textContent = ok + '/' + all.length; document.body.appendChild(m);});</script>"
    )
    assert page.count("script-src 'none'") == 1
    probe = page.replace("script-src 'none'", "script-src 'unsafe-inline'")
    probe = probe.replace("</body>", check + "</body>")
    path = folder / "probe.html"
    path.write_text(probe, encoding="utf-8")
    argv = [
        chromium_or_skip(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={folder / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    found = re.search(rf'id="{MARKER}">(\d+)/(\d+)<', done.stdout)
    assert found, f"Chromium printed no result (exit {done.returncode}): {done.stderr[-2000:]}"
    return int(found.group(1)), int(found.group(2))


def test_every_image_of_the_report_renders_in_headless_chromium(report, tmp_path):
    page = report.read_text(encoding="utf-8")
    ok, total = rendered_images(page, tmp_path)
    assert total == len(assert_self_contained(page)) == 4
    assert ok == total


def test_the_browser_check_catches_a_broken_image(tmp_path):
    with_broken = html_page(
        "probe",
        [("a broken image", '<img src="data:image/png;base64,iVBORw0KGgo=" alt="cut">')],
    )
    ok, total = rendered_images(with_broken, tmp_path)
    assert (ok, total) == (0, 1)


def test_image_html_builds_a_figure_with_its_caption():
    from bptt.insight import plot_dh_profiles, png_bytes

    snippet = image_html(png_bytes(plot_dh_profiles({"a": [1.0, 0.5]})), "alt <text>", "cap & c")
    assert snippet.startswith('<figure><img src="data:image/png;base64,')
    assert 'alt="alt &lt;text&gt;"' in snippet and "cap &amp; c" in snippet
