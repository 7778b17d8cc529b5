"""Per-image metadata matched to an image set: every image one row, or a clear error listing the first paths."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.image_fixtures import write_image_folder, write_metadata

from audit.errors import AuditError
from audit.model.images import load_image_set
from audit.model.metadata import HINT_GAPS, NO_ROW, load_metadata


@pytest.fixture
def image_set(tmp_path):
    return load_image_set(write_image_folder(tmp_path / "imgs", per_class=2, odd_sizes=False))


def _rows(image_set, drop=(), extra=(), twice=()):
    rows = [{"path": p, "site": f"s{i % 2}", "age_band": "18-30"} for i, p in enumerate(image_set.paths) if p not in drop]
    rows += [{"path": p, "site": "s9", "age_band": "x"} for p in list(extra) + list(twice)]
    return rows


def test_groups_follow_the_image_order(image_set, tmp_path):
    meta = write_metadata(image_set.root, tmp_path / "m.csv", rows=list(reversed(_rows(image_set))))
    groups, report = load_metadata(meta, image_set)
    assert list(groups) == ["site", "age_band"]
    assert groups["site"].tolist() == ["s0", "s1"] * 3
    assert report["images_without_row"] == report["duplicate_rows"] == report["rows_without_image"] == 0


def test_group_col_selects_and_unknown_is_listed(image_set, tmp_path):
    meta = write_metadata(image_set.root, tmp_path / "m.csv", rows=_rows(image_set))
    assert list(load_metadata(meta, image_set, group_cols=["age_band"])[0]) == ["age_band"]
    with pytest.raises(AuditError, match="unknown metadata column 'sex'; attribute columns: site, age_band"):
        load_metadata(meta, image_set, group_cols=["sex"])


@pytest.mark.parametrize("kind, message", [
    ("without", r"2 image\(s\) have no metadata row, first: bird/000.png, cat/001.png"),
    ("duplicate", r"1 image path\(s\) have more than one metadata row, first: dog/000.png"),
    ("no-image", r"2 metadata row\(s\) name images that are not in the data, first: emu/1.png, emu/2.png"),
])
def test_gaps_are_errors_listing_the_first_paths(image_set, tmp_path, kind, message):
    rows = {"without": _rows(image_set, drop=("bird/000.png", "cat/001.png")),
            "duplicate": _rows(image_set, twice=("dog/000.png",)),
            "no-image": _rows(image_set, extra=("emu/1.png", "emu/2.png"))}[kind]
    meta = write_metadata(image_set.root, tmp_path / "m.csv", rows=rows)
    with pytest.raises(AuditError, match=message) as info:
        load_metadata(meta, image_set)
    assert info.value.path == str(meta) and info.value.hint == HINT_GAPS


def test_gaps_counted_and_reported_when_allowed(image_set, tmp_path):
    rows = _rows(image_set, drop=("bird/000.png",), extra=("emu/1.png",), twice=("dog/000.png",))
    meta = write_metadata(image_set.root, tmp_path / "m.csv", rows=rows)
    groups, report = load_metadata(meta, image_set, allow_gaps=True)
    assert groups["site"][0] == NO_ROW and groups["site"][4] == "s0"  # first of the duplicate rows kept
    assert (report["images_without_row"], report["duplicate_rows"], report["rows_without_image"]) == (1, 1, 1)


def test_missing_path_column_and_escaping_paths(image_set, tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_text("file,site\nbird/000.png,a\n")
    with pytest.raises(AuditError, match="needs a 'path' column"):
        load_metadata(meta, image_set)
    meta.write_text("path,site\n../../etc/passwd,a\n")
    with pytest.raises(AuditError, match="escapes"):
        load_metadata(meta, image_set)


def test_empty_cell_is_missing_and_refused_by_predictions(image_set, tmp_path):
    from audit.predictions import make_predictions

    rows = _rows(image_set)
    rows[3]["site"] = ""
    groups, _ = load_metadata(write_metadata(image_set.root, tmp_path / "m.csv", rows=rows), image_set)
    probs = np.full((6, 3), 1 / 3)
    with pytest.raises(AuditError, match="group column 'site' has 1 missing value"):
        make_predictions(image_set.labels, probs, groups=groups)
