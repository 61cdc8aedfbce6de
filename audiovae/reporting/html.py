"""Static HTML pages: one self-contained file per page (stylesheet and the few scripts inlined from
`reporting/web/`), relative links to the run's audio and plots, no network fetch, so a run folder opens from
disk, can be copied, or served as it is.

>>> table_html(["metric", "Δ"], [["snr ↑", "+1.000 dB"]])  # doctest: +ELLIPSIS
'<table><thead><tr><th>metric</th><th>Δ</th></tr></thead><tbody><tr><td>snr ↑</td>...</tbody></table>'
>>> link("plots/a b.png")
'plots/a%20b.png'
"""

import json
import os
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote

# Nothing leaves the page: scripts and styles only inline, media and images only from the page's own folders.
CONTENT_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' file: "
    "data:; media-src 'self' file: blob:; connect-src 'none'"
)


def asset(name: str) -> str:
    """The text of `reporting/web/<name>`."""
    return files("audiovae.reporting").joinpath("web", name).read_text(encoding="utf-8")


def link(relative: str) -> str:
    """A relative path as a URL path (each segment percent-encoded, so any file name works)."""
    return quote(relative)


def _cell(cell) -> str:
    text, cls = cell if isinstance(cell, tuple) else (cell, "")
    return f'<td class="{cls}">{escape(str(text))}</td>' if cls else f"<td>{escape(str(text))}</td>"


def relative_path(path: Path, start: Path) -> str:
    """`path` relative to the folder `start` (with `..` where needed), `/`-separated as a link wants it."""
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def table_html(header: Sequence[str], rows: Sequence[Sequence], cls: str = "") -> str:
    """A `<table>` of text cells (escaped); a cell may be `(text, css class)`."""
    if not header:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts_html(facts: Sequence[str]) -> str:
    """A list of facts as a page shows them (escaped)."""
    return '<ul class="facts">' + "".join(f"<li>{escape(f)}</li>" for f in facts) + "</ul>"


def png_size(path: Path) -> Optional[tuple[int, int]]:
    """(width, height) from a PNG's header, None for anything else."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def figure_html(relative: str, alt: str, folder: Path) -> str:
    """The image at `folder/relative` (linked to itself), or nothing when it was not drawn. Its size is given, so
    the page does not move when a lazily loaded image arrives (a click would land on something else)."""
    if not (folder / relative).exists():
        return ""
    size = png_size(folder / relative)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<a href="{link(relative)}"><img class="figure" src="{link(relative)}" alt="{escape(alt)}"{dims} '
        'loading="lazy"></a>'
    )


def player_html(sources: Sequence[tuple[str, str]], folder: Path, preload: str = "metadata") -> str:
    """Synchronised players (`web/player.js`): a button per (label, relative wav path) that exists under `folder`,
    keyed 1, 2, ...; one `<audio>` each, the first shown. `preload="none"` loads nothing before playback (long
    pages: browsers cap how many media elements may hold a loaded resource)."""
    present = [(label, path) for label, path in sources if (folder / path).exists()]
    if not present:
        return '<p class="note">no audio saved for this file</p>'
    buttons = "".join(
        f'<button type="button" data-index="{i}" aria-pressed="{str(i == 0).lower()}">'
        f"{i + 1} · {escape(label)}</button>"
        for i, (label, _) in enumerate(present)
    )
    audios = "".join(
        f'<audio controls preload="{preload}" data-label="{escape(label)}" src="{link(path)}"'
        f"{'' if i == 0 else ' hidden'}></audio>"
        for i, (label, path) in enumerate(present)
    )
    return f'<div class="player">{buttons}{audios}</div>'


def render_page(title: str, body: str, scripts: Sequence[str] = ("player.js",), data: Optional[dict] = None) -> str:
    """A whole HTML document: `body` (HTML), the stylesheet and `scripts` from `web/` inlined, `data` as JSON in
    `<script id="<key>" type="application/json">` blocks."""
    blocks = "".join(
        f'<script id="{escape(key)}" type="application/json">{_json_in_html(value)}</script>'
        for key, value in (data or {}).items()
    )
    code = "".join(f"<script>{asset(name)}</script>" for name in scripts)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{asset('page.css')}</style></head>\n"
        f"<body>\n{body}\n{blocks}{code}</body></html>\n"
    )


def _json_in_html(value) -> str:
    """JSON that cannot close its `<script>` element early."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_page(path: Path, title: str, body: str, **kwargs) -> Path:
    """Write a static page (`render_page`) atomically: a temporary file replaced into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_page(title, body, **kwargs), encoding="utf-8")
    tmp.replace(path)
    return path
