"""``audit run``'s option conflicts: each is one usage line, exit 2, and nothing is read or written."""

from __future__ import annotations

import pytest
from helpers.hardening_helpers import assert_clear_error, run_main, write_predictions

from audit.commands.run import MSG_FILE_ONLY, MSG_PREDICTIONS_VS_MODEL, MSG_STREAM_FILE_ONLY
from audit.pipeline import MSG_DASK_NO_STREAM, MSG_STREAM_BASELINE


@pytest.mark.parametrize("args, message", [
    (["--predictions", "p.npz", "--model", "m"], MSG_PREDICTIONS_VS_MODEL),
    (["--predictions", "p.npz", "--data", "d"], MSG_PREDICTIONS_VS_MODEL),
    (["--group-col", "region"], MSG_FILE_ONLY),
    (["--calibration-set", "c.npz"], MSG_FILE_ONLY),
    (["--stream"], MSG_STREAM_FILE_ONLY),
    (["--no-stream"], MSG_STREAM_FILE_ONLY),
    (["--dask", "local:1", "--stream"], MSG_STREAM_FILE_ONLY),  # --dask alone runs the seed model on Dask
    (["--predictions", "p.npz", "--dask", "local:1", "--no-stream"], MSG_DASK_NO_STREAM),
    (["--predictions", "p.npz", "--stream", "--baseline", "old.npz"], MSG_STREAM_BASELINE),
], ids=["model", "data", "group-col", "calibration-set", "stream", "no-stream", "dask-stream", "dask-no-stream",
        "stream-predictions-baseline"])
def test_conflicting_options_are_one_usage_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_predictions(tmp_path / "p.npz")
    code = run_main("run", *args, "--out", tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"audit: error: {message} (see 'audit run --help')"
    assert not (tmp_path / "out").exists()


def test_a_typo_in_the_policy_is_reported_before_any_model_is_loaded(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.toml").write_text("[accuracy]\nminimun = 0.5\n", encoding="utf-8")
    code = run_main("run", "--model", tmp_path / "no-such-model", "--policy", "policy.toml")
    err = capsys.readouterr().err
    assert code == 2
    assert_clear_error(err, "policy.toml", "unknown key")
