"""label_quality names each flagged sample by its id from an NPZ and a Parquet predictions file (image folders:
tests/model/test_image_audit.py); a streamed audit says why neither section was computed."""

from __future__ import annotations

import numpy as np
import pytest

from audit.pipeline import run_audit
from audit.predictions import make_predictions
from audit.sources.npz import save_npz
from audit.sources.table import save_table


def _planted(n=400, k=4, flips=12, seed=3):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 7.0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    given = true.copy()
    flipped = rng.choice(n, flips, replace=False)
    given[flipped] = (true[flipped] + 1) % k
    ids = np.array([f"img-{i:04d}.png" for i in range(n)])
    return make_predictions(given, probs, [f"c{j}" for j in range(k)], sample_ids=ids,
                            groups={"site": np.where(np.arange(n) % 2, "north", "south")}), ids, flipped


@pytest.mark.parametrize("ext", [".npz", ".parquet"])
def test_flagged_samples_carry_the_files_sample_ids(tmp_path, ext):
    from cleanlab.filter import find_label_issues

    pred, ids, flipped = _planted()
    path = tmp_path / f"p{ext}"
    (save_npz if ext == ".npz" else save_table)(path, pred)
    data = run_audit(path, group_cols=["site"], n_bootstrap=0, stream=False).to_dict()
    lq = data["label_quality"]
    own = find_label_issues(pred.labels, pred.probs, return_indices_ranked_by="self_confidence")
    assert [f["sample_id"] for f in lq["flagged"]] == ids[own].tolist()
    assert set(ids[flipped]) <= {f["sample_id"] for f in lq["flagged"]}
    assert [g["group"] for g in lq["by_group"]["site"]] == ["north", "south"]
    assert sum(g["n_flagged"] for g in lq["by_group"]["site"]) == lq["n_flagged"]
    assert data["slices"]["computed"] and data["slices"]["features"] == ["site", "class"]


def test_a_streamed_audit_states_why_both_sections_are_absent(tmp_path):
    pred, _, _ = _planted()
    path = save_npz(tmp_path / "p.npz", pred)
    data = run_audit(path, n_bootstrap=0, stream=True, chunk_rows=100).to_dict()
    for key in ("label_quality", "slices"):
        assert data[key]["computed"] is False and "streamed" in data[key]["reason"]
    assert data["label_quality"]["n_flagged"] is None and data["slices"]["found"] == []
