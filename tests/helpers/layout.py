"""Short words and numbers broken across lines in a rendered report: the layout check of issue 21.

For every table cell, caption and heading, each text token of at most ``SHORT`` characters is measured with
``Range.getClientRects``: a token whose glyphs lie on two lines has two rectangles at different heights.
Run as a script it prints the count for each report given, at each of ``WIDTHS``::

    .venv/bin/python tests/helpers/layout.py tests/golden/expected/*/report.html
"""

from __future__ import annotations

import sys
from pathlib import Path

SHORT = 8
#: (label, viewport width in CSS px, media): the desktop view, JupyterLab's report frame in a 1280 px window with
#: the file browser open (about 828 px), and A4 portrait paper (210 mm at 96 px/in).
WIDTHS = (("screen 1280 px", 1280, "screen"), ("screen 820 px", 820, "screen"), ("print 794 px", 794, "print"))

BROKEN_TOKENS_JS = """(short) => {
  const broken = [];
  for (const el of document.querySelectorAll("th, td, caption, h1, h2, h3, dt, dd")) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest("th, td, caption, h1, h2, h3, dt, dd") !== el) continue;
      const text = node.textContent;
      for (const m of text.matchAll(/\\S+/g)) {
        if (m[0].length > short) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def broken_short_tokens(page, *, short: int = SHORT) -> list[str]:
    """The tokens of at most ``short`` characters that wrap onto two lines in ``page`` as laid out now."""
    return page.evaluate(BROKEN_TOKENS_JS, short)


def measure(browser, path: Path) -> dict[str, list[str]]:
    """{width label: broken tokens} for the report at ``path``, at each of ``WIDTHS``."""
    out = {}
    for label, width, media in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 1000}, device_scale_factor=1)
        try:
            page = context.new_page()
            page.emulate_media(media=media)
            page.goto(Path(path).resolve().as_uri())
            out[label] = broken_short_tokens(page)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 0:
                out[label].append(f"<page {overflow} px wider than the viewport>")
            # a wide table scrolls inside its box (.scroll-x) rather than widening the page; at the widths checked
            # here it must still fit its box
            for wider in page.evaluate("() => [...document.querySelectorAll('.scroll-x')]"
                                       ".map(e => e.scrollWidth - e.clientWidth).filter(d => d > 0)"):
                out[label].append(f"<a scrolling box {wider} px wider than its content area>")
        finally:
            context.close()
    return out


def main(paths: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    from helpers.browser import CHROMIUM_ARGS, find_chromium

    totals = {label: 0 for label, _, _ in WIDTHS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        for path in paths:
            for label, tokens in measure(browser, Path(path)).items():
                totals[label] += len(tokens)
                print(f"{path}  {label}: {len(tokens)} broken  {' '.join(tokens[:12])}")
        browser.close()
    print("total:", ", ".join(f"{label} {n}" for label, n in totals.items()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main(sys.argv[1:])
