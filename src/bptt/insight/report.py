"""One self-contained HTML page about a run: nothing outside the file is ever loaded.

    page = <head> (inline CSS, a Content-Security-Policy that allows images from data: URIs
                   only and no scripts)
           sections: final metrics | training curves | gradient flow | states and gates |
                     generated text (text runs) | configuration

Every image is a PNG embedded as ``data:image/png;base64,...``; every text from the run
(option values, the sample) is HTML-escaped. The page is one file that can be mailed, archived
or opened offline, and it looks the same in ten years.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'"

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
pre { background: #f6f6f6; padding: 0.8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.note { color: #555; font-style: italic; }
"""


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for the bytes of a PNG file."""
    if not isinstance(png, (bytes, bytearray)):
        raise TypeError(f"png: expected the bytes of a PNG file, got {type(png).__name__}")
    if not bytes(png[:8]) == PNG_SIGNATURE:
        raise ValueError(f"png: expected bytes starting with the PNG signature, got {png[:8]!r}")
    return "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")


def image_html(png: bytes, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(png)}" alt="{html.escape(alt)}">{cap}</figure>'


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return f"<td>{html.escape(str(value))}</td>"
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.6g}</td>'
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    return f"<td>{html.escape(str(value))}</td>"


def table_html(header: Sequence[str] | None, rows: Sequence[Sequence]) -> str:
    """A table of escaped cells; numbers right-aligned; no header row when header is None."""
    head = ""
    if header is not None:
        cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        head = f"<thead><tr>{cells}</tr></thead>"
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def pre_html(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def note_html(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def html_page(title: str, sections: Sequence[tuple[str, str]], intro: str = "") -> str:
    """The whole page: ``sections`` are (heading, HTML body) pairs; ``intro`` is plain text."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    for heading, body in sections:
        parts.append(f"<section><h2>{html.escape(heading)}</h2>\n{body}\n</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def metrics_table(summary: Mapping) -> str:
    """Rows best / final / test of summary.json, a column per metric found in any of them."""
    rows = [(k, summary[k]) for k in ("best", "final", "test") if isinstance(summary.get(k), dict)]
    columns = sorted({m for _, values in rows for m in values})
    if not rows:
        return note_html("summary.json holds no metrics.")
    table = table_html(
        ["", *columns], [[name, *(values.get(m, "") for m in columns)] for name, values in rows]
    )
    facts = [(k, summary[k]) for k in ("status", "steps", "epochs", "best_step") if k in summary]
    return table + table_html(None, facts)


def config_table(config: Mapping) -> str:
    """The task, then every option (model, training, task) as the run resolved it."""
    options = config.get("options") or config.get("train") or {}
    rows = [["task", config.get("task", "")]] + [[k, options[k]] for k in sorted(options)]
    return table_html(["option", "value"], rows)


def run_report_html(
    name: str,
    config: Mapping,
    summary: Mapping | None,
    images: Mapping[str, bytes],
    sample: str | None = None,
) -> str:
    """The page of one run. ``images``: PNG bytes under the names ``bptt plot`` writes
    (curves, gradient_flow, dh_profile, states_<layer-direction>)."""
    options = config.get("options", {})
    intro = f"task {config.get('task', '?')}, cell {options.get('cell', '?')}, " + (
        f"{options.get('hidden_size', '?')} hidden units, {options.get('num_layers', 1)} layer(s)"
        + (", bidirectional" if options.get("bidirectional") else "")
    )
    sections = [
        (
            "Final metrics",
            metrics_table(summary) if summary else note_html("No summary.json: unfinished run."),
        )
    ]
    if "curves" in images:
        sections.append(("Training curves", image_html(images["curves"], "training curves")))
    flow = [
        image_html(images[k], k.replace("_", " "), caption)
        for k, caption in (
            (
                "gradient_flow",
                "Columns are training steps, rows the time step t of the "
                "sequence; colour is the error dL/dh_t reaching h_t, on a log scale.",
            ),
            ("dh_profile", "The same error against t at three points of training."),
        )
        if k in images
    ]
    sections.append(
        (
            "Gradient flow through time",
            "\n".join(flow)
            or note_html("No diagnostics recorded; train with --diagnostics N to see them."),
        )
    )
    states = [k for k in images if k.startswith("states_")]
    if states:
        body = "\n".join(image_html(images[k], k.replace("_", " ")) for k in states)
        sections.append(("States and gates of one validation example", body))
    if sample is not None:
        sections.append(("Generated text (temperature 0.8)", pre_html(sample)))
    sections.append(("Configuration", config_table(config)))
    return html_page(f"bptt report: {name}", sections, intro)
