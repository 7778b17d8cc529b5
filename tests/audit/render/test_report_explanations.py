"""The saliency maps in report.html, in headless Chromium: the gallery shows each image's map over it and alone
(inline PNGs that load), the sanity figures with their conventions, a plain-language verdict when a figure says
not to trust the maps; with --no-explanations (run_audit(explanations=False)) no map and the reason."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers.browser import RecordingPage, requires_browser

import audit
from audit.model.explain.sanity import verdicts
from audit.render.html import render_html

pytestmark = [pytest.mark.slow, requires_browser]

COUNT = """() => {
  const maps = [...document.querySelectorAll('#mistakes ol.gallery img.xmap')];
  return {maps: maps.length, loaded: maps.filter(i => i.complete && i.naturalWidth > 0).length,
          text: document.querySelector('#explanations').innerText};
}"""


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from helpers.image_fixtures import write_image_folder

    data = write_image_folder(tmp_path_factory.mktemp("imgs") / "imgs", per_class=6, size=32, odd_sizes=False)

    def model(x):  # reads pixel (0, 0) only
        return np.full((len(x), 3), 0.1) + np.eye(3)[x[:, 0, 0, 0] % 3] * 0.7

    return audit.model_source(model, data)


def _open(chromium, tmp_path, result, name):
    page = tmp_path / f"{name}.html"
    page.write_text(render_html(result), encoding="utf-8")
    with RecordingPage(chromium) as recording:
        report = recording.goto(page)
        found = recording.page.evaluate(COUNT)
    assert report.errors == []
    return found


def test_the_gallery_shows_each_map_over_the_image_and_alone(chromium, tmp_path, source):
    result = audit.run_audit(source, n_bootstrap=0, reproducible=True, notify=lambda line: None).data
    n = len(result["explanations"]["items"])
    assert n == len(result["mistakes"]) > 0
    found = _open(chromium, tmp_path, result, "on")
    assert found["maps"] == found["loaded"] == 2 * n
    assert "occlusion" in found["text"] and "Deletion win rate" in found["text"]
    assert "Python callable" in found["text"]  # why occlusion, and why no randomisation check

    flagged = copy.deepcopy(result)
    flagged["explanations"]["sanity"].update(deletion_win_rate=0.25, verdicts=verdicts(0.8, 0.25))
    text = _open(chromium, tmp_path, flagged, "flagged")["text"]
    assert "Do not read them as the model's reasons" in text and "25%" in text


def test_no_maps_with_no_explanations(chromium, tmp_path, source):
    result = audit.run_audit(source, n_bootstrap=0, reproducible=True, explanations=False).data
    assert result["mistakes"] and result["mistakes"][0]["thumbnail"]
    found = _open(chromium, tmp_path, result, "off")
    assert found["maps"] == 0
    assert "No saliency maps: turned off (--no-explanations" in found["text"]
