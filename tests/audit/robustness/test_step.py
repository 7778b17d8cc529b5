"""RobustnessSettings: what the robustness step was asked to do, refused by argument as ``audit run``'s options are
(issue 21, review findings 3, 4)."""

from __future__ import annotations

import numpy as np
import pytest

import audit
from audit.errors import MSG_NUMBER

GOOD = {"corruptions": ("gaussian_noise",), "severities": (1, 3), "n_samples": 10, "data_dir": None, "given": True}


def test_good_settings_are_kept_as_tuples():
    s = audit.RobustnessSettings(**{**GOOD, "corruptions": ["fog"], "severities": [np.int64(2), 5]})
    assert s.corruptions == ("fog",) and s.severities == (2, 5) and s.n_samples == 10
    assert audit.RobustnessSettings(**{**GOOD, "n_samples": None}).n_samples is None  # every test image


@pytest.mark.parametrize("keyword, value, shown, expected", [
    ("severities", (9,), 9, "integers in 1-5"),
    ("severities", (0,), 0, "an integer ≥ 1"),
    ("severities", (2.5,), 2.5, "an integer ≥ 1"),
    ("n_samples", -5, -5, "an integer ≥ 1"),
    ("n_samples", 0, 0, "an integer ≥ 1"),
    ("n_samples", 1.5, 1.5, "an integer ≥ 1"),
])
def test_numbers_out_of_range_are_refused_by_name(keyword, value, shown, expected):
    with pytest.raises(audit.AuditError) as err:
        audit.RobustnessSettings(**{**GOOD, keyword: value})
    assert err.value.message == MSG_NUMBER.format(name=keyword, expected=expected, value=shown)


def test_an_unknown_corruption_names_the_closest():
    with pytest.raises(audit.AuditError, match=r"^corruptions: unknown corruption 'gausian_noise' "
                                               r"\(did you mean 'gaussian_noise'\?\); known: gaussian_noise, "):
        audit.RobustnessSettings(**{**GOOD, "corruptions": ("gausian_noise",)})


def test_a_misspelt_keyword_names_the_closest():
    with pytest.raises(TypeError, match=r"^RobustnessSettings.__init__\(\) got an unexpected keyword argument "
                                        r"'severity'; did you mean 'severities'\?$"):
        audit.RobustnessSettings(**{k: v for k, v in GOOD.items() if k != "severities"}, severity=(1,))


def test_no_corruptions_is_robustness_off_but_no_severity_or_none_is_refused():
    assert audit.RobustnessSettings(**{**GOOD, "corruptions": ()}).corruptions == ()  # --corruptions none
    with pytest.raises(audit.AuditError) as err:
        audit.RobustnessSettings(**{**GOOD, "severities": ()})
    assert err.value.message == MSG_NUMBER.format(
        name="severities", expected="at least one integer in 1-5 when corruptions are given", value=())
    with pytest.raises(audit.AuditError, match=r"^corruptions: a list of corruption names \(empty: robustness "
                                               r"off\); got None$"):
        audit.RobustnessSettings(**{**GOOD, "corruptions": None})
