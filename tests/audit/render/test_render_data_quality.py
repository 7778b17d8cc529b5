"""The report's Label quality and Discovered weak slices sections (issue 23): counts, warning, gallery of the
most suspicious labels where images are available, the slices table with intervals and thumbnails; escaped
text, unsafe thumbnails dropped; and in headless Chromium: visible, gallery drawn, absent with --no-images."""

from __future__ import annotations

import numpy as np
import pytest
from bs4 import BeautifulSoup
from helpers.browser import RecordingPage, requires_browser
from helpers.sample_result import HOSTILE

from audit.engine.build import build_result
from audit.predictions import make_predictions
from audit.render.html import render_html


def _pred(seed=0, n=1200, k=5, images=True):
    """A weak-ish model (about 85% accurate) with a planted weak slice (class c2 at site a) and images."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    site = rng.choice(["a", "b", "c"], n)
    wrong = rng.random(n) < np.where((y == 2) & (site == "a"), 0.6, 0.1)
    predicted = np.where(wrong, (y + 1) % k, y)
    probs = rng.random((n, k)) * 0.2
    probs[np.arange(n), predicted] += 1.5
    probs /= probs.sum(axis=1, keepdims=True)
    pics = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8) if images else None
    return make_predictions(y, probs, [f"c{j}" for j in range(k)], groups={"site": site},
                            sample_ids=[f"s{i}.png" for i in range(n)], images=pics)


@pytest.fixture(scope="module")
def with_images():
    return build_result(_pred(), n_bootstrap=0)


@pytest.fixture(scope="module")
def without_images():
    return build_result(_pred(), n_bootstrap=0, images=False)


def test_sections_show_counts_warning_gallery_and_slices_table(with_images):
    soup = BeautifulSoup(render_html(with_images), "html.parser")
    lq = with_images["label_quality"]
    sentence = soup.find(id="label-quality-sentence").get_text(" ", strip=True)
    assert f"{lq['n_flagged']:,} of 1,200" in sentence
    assert soup.find(id="label-quality-warning") and "below 90%" in soup.find(id="label-quality-warning").get_text()
    gallery = soup.find(id="label-quality-gallery").find_all("li")
    assert len(gallery) == min(24, lq["n_flagged"])
    first = lq["flagged"][0]
    assert f"given: {first['given']}" in gallery[0].get_text() and f"suggested: {first['suggested']}" in gallery[0].get_text()
    assert [r.th.get_text() for r in soup.find(id="label-quality-by-class").tbody.find_all("tr")] == [f"c{j}" for j in range(5)]
    assert soup.find(id="label-quality-by-group-0")
    table = soup.find(id="weak-slices-table")
    confirmed = [s for s in with_images["slices"]["found"] if s["confirmed"]]
    assert confirmed and any(s["predicates"] == {"site": "a", "class": "c2"} or s["predicates"] == {"class": "c2", "site": "a"}
                             for s in confirmed)
    rows = table.find_all("tr", class_="confirmed")
    assert len(rows) == len(confirmed) and "%" in rows[0].find("td", class_="ci-cell").get_text()
    assert all(len(tr.find_all("img")) <= 4 for tr in table.find_all("tr", class_="slice-examples"))
    assert table.find("tr", class_="slice-examples").find("img")
    card = soup.find(id="model-card").get_text(" ", strip=True)
    assert "Examined for label errors with cleanlab" in card and "Searched for weak slices with SliceLine" in card
    nav = [a["href"] for a in soup.find("nav").find_all("a")]
    assert "#label-quality" in nav and "#weak-slices" in nav


def test_without_images_no_gallery_and_no_thumbnails(without_images):
    soup = BeautifulSoup(render_html(without_images), "html.parser")
    assert soup.find(id="label-quality-gallery") is None
    assert soup.find(id="label-quality-top") and soup.find(id="weak-slices-table")
    assert soup.find(id="weak-slices").find("img") is None


def test_hostile_text_is_escaped_and_unsafe_thumbnails_dropped(with_images):
    import copy

    r = copy.deepcopy(with_images)
    r["label_quality"]["flagged"][0].update(given=HOSTILE[0], suggested=HOSTILE[1], sample_id=HOSTILE[2],
                                            thumbnail="javascript:alert(1)")
    r["slices"]["found"][0]["predicates"] = {HOSTILE[0]: HOSTILE[1]}
    r["slices"]["found"][0]["examples"][0]["thumbnail"] = "http://example.com/x.png"
    html = render_html(r)
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "javascript:" not in html
    assert "http://example.com" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_streamed_result_says_why():
    from audit.engine.data_quality import add_not_computed
    from helpers.sample_result import sample_result

    r = sample_result()
    add_not_computed(r, ["site"])
    soup = BeautifulSoup(render_html(r), "html.parser")
    for section in ("label-quality", "weak-slices"):
        assert "Not computed: not computed in a streamed or Dask audit" in soup.find(id=section).get_text(" ", strip=True)


@pytest.mark.slow
@requires_browser
def test_in_chromium_the_sections_are_visible_and_the_gallery_drawn(chromium, tmp_path, with_images, without_images):
    for result, gallery in ((with_images, True), (without_images, False)):
        page = tmp_path / f"report-{gallery}.html"
        page.write_text(render_html(result), encoding="utf-8")
        with RecordingPage(chromium) as recording:
            report = recording.goto(page)
            assert report.errors == []
            p = recording.page
            assert p.locator("#label-quality").is_visible() and p.locator("#weak-slices-table").is_visible()
            assert p.locator("#label-quality-gallery").count() == int(gallery)
            if gallery:
                drawn = p.eval_on_selector_all("#label-quality-gallery img",
                                               "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
                assert drawn == min(24, result["label_quality"]["n_flagged"])
                assert p.locator("#weak-slices-table tr.slice-examples img").first.is_visible()
            else:
                assert p.locator("#label-quality-top").is_visible()
