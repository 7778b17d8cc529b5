"""make_predictions: the one place that validates what any model hands to the audit."""

import re

import numpy as np
import pytest

from audit.errors import AuditError
from audit.predictions import MSG_EMPTY, MSG_LOGITS, make_predictions

P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
Y = np.array([0, 1, 1])


def test_valid_inputs_are_converted():
    pred = make_predictions(Y, P, ["cat", "dog", "bird"], sample_ids=[1, 2, 3], groups={"g": ["a", "b", "a"]})
    assert pred.n_samples == 3 and pred.n_classes == 3
    assert pred.class_names == ("cat", "dog", "bird")
    assert pred.labels.dtype == np.int64 and pred.probs.dtype == np.float64
    assert list(pred.sample_ids) == ["1", "2", "3"]
    np.testing.assert_array_equal(pred.predicted, [0, 1, 2])
    np.testing.assert_allclose(pred.confidence, [0.7, 0.8, 0.4])


def test_argmax_ties_go_to_the_lowest_index():
    pred = make_predictions([0, 0], [[0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_array_equal(pred.predicted, [0, 1])


def test_default_class_names_and_float_integer_labels():
    pred = make_predictions(np.array([0.0, 1.0]), [[0.9, 0.1], [0.2, 0.8]])
    assert pred.class_names == ("class_0", "class_1")
    assert pred.labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    "labels, probs, names, kwargs, match",
    [
        ([], np.zeros((0, 3)), None, {}, re.escape(MSG_EMPTY)),
        (Y, P[:, :1] * 0 + 1, None, {}, "at least 2 classes"),
        (Y, P.ravel(), None, {}, "2-D array"),
        (Y, np.where(P == 0.7, np.nan, P), None, {}, "NaN or infinity"),
        (Y, np.where(P == 0.7, np.inf, P), None, {}, "NaN or infinity"),
        (Y, np.log(P) * 3, None, {}, "logits"),
        (Y, P * 0.5, None, {}, "sum to 1"),
        (Y, np.array([[1.1, -0.1, 0.0], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]), None, {}, r"lie in \[0, 1\]"),
        ([0, 1], P, None, {}, "disagree on N"),
        ([0, 1, 3], P, None, {}, r"lie in \[0, 2\].*got 3"),
        ([0, 1, -1], P, None, {}, "got -1"),
        ([0, 1, 0.5], P, None, {}, "must be integers"),
        (["a", "b", "c"], P, None, {}, "must be integers"),
        (Y, P, ["a", "b"], {}, "2 class names for 3"),
        (Y, P, ["a", "b", "a"], {}, "repeated: a"),
        (Y, P, None, {"sample_ids": ["x", "y", "x"]}, "'x' appears 2 times"),
        (Y, P, None, {"groups": {"g": ["a", None, "b"]}}, "missing value"),
        (Y, P, None, {"groups": {"g": np.array([1.0, np.nan, 2.0])}}, "missing value"),
        (Y, P, None, {"groups": {"g": ["a", "b"]}}, "shape"),
    ],
)
def test_bad_inputs_give_one_clear_error_naming_the_source(labels, probs, names, kwargs, match):
    with pytest.raises(AuditError, match=match) as info:
        make_predictions(labels, probs, names, source="preds.npz", **kwargs)
    assert str(info.value).startswith("preds.npz: ")
    assert "\n" not in str(info.value)


def test_logits_message_says_what_to_do():
    assert "softmax" in MSG_LOGITS


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sample_ids": ["a", None, "c"]}, "sample ids must not be missing; row 1"),
        ({"sample_ids": np.array([1.0, np.nan, 2.0])}, "sample ids must not be missing"),
        ({"class_names": ["a", "", "c"]}, "must not be empty"),
        ({"class_names": [["a", "b", "c"]]}, "1-D"),
    ],
)
def test_missing_ids_and_bad_class_names(kwargs, match):
    names = kwargs.pop("class_names", None)
    with pytest.raises(AuditError, match=match):
        make_predictions(Y, P, names, source="f.npz", **kwargs)


def test_huge_labels_are_reported_without_wrapping():
    with pytest.raises(AuditError, match="got 18446744073709551615"):
        make_predictions(np.array([0, 1, 2**64 - 1], dtype=np.uint64), P)
    with pytest.raises(AuditError, match=r"got 1e\+300"):
        make_predictions(np.array([0, 1, 1e300]), P)


def test_probabilities_are_copied_unless_handed_over():
    probs = np.array([[1.0000001, -0.0000001], [0.25, 0.75]])  # within the tolerance, clipped to [0, 1]
    kept = probs.copy()
    pred = make_predictions([0, 1], probs)
    assert np.array_equal(probs, kept) and pred.probs is not probs and pred.probs.max() == 1.0
    handed = make_predictions([0, 1], probs, copy=False)  # a reader's own array: clipped in place
    assert handed.probs is probs and probs.max() == 1.0 and probs.min() == 0.0
    view = kept[:, :]  # not owning its memory: copied all the same
    assert make_predictions([0, 1], view, copy=False).probs is not view and view.max() > 1.0


# -- a probabilities DataFrame with integer column names (sklearn's columns=clf.classes_) ----------------------


def _sklearn_frame(classes=(1, 2, 3)):
    import pandas as pd

    return pd.DataFrame([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]], columns=list(classes))


def test_integer_labels_are_matched_against_integer_column_names():
    """classes_ = [1, 2, 3], labels [1, 2, 3, 2]: the classes '1', '2', '3', '2', never shifted by one."""
    pred = make_predictions([1, 2, 3, 2], _sklearn_frame())
    assert pred.class_names == ("1", "2", "3")
    assert [pred.class_names[i] for i in pred.labels] == ["1", "2", "3", "2"]
    assert pred.labels.tolist() == [0, 1, 2, 1]
    # the same with a float, an object or a pandas label column, and with the names as text
    import pandas as pd

    for labels in (np.array([1.0, 2.0, 3.0, 2.0]), np.array([1, 2, 3, 2], dtype=object), pd.Series([1, 2, 3, 2])):
        assert make_predictions(labels, _sklearn_frame()).labels.tolist() == [0, 1, 2, 1]
    assert make_predictions(np.array([1, 2, 3, 2]), _sklearn_frame(("1", "2", "3"))).labels.tolist() == [0, 1, 2, 1]
    assert make_predictions(["1", "2", "3", "2"], _sklearn_frame()).labels.tolist() == [0, 1, 2, 1]  # names as text


def test_an_integer_label_that_names_no_column_is_refused():
    from audit.predictions import MSG_LABEL_NOT_A_COLUMN

    with pytest.raises(AuditError) as err:
        make_predictions([1, 2, 0, 2], _sklearn_frame())
    assert err.value.message == MSG_LABEL_NOT_A_COLUMN.format(value=0, row=2, columns="1, 2, 3")
    assert "read as column names, not positions" in err.value.message


def test_columns_that_are_the_positions_or_text_keep_labels_as_positions():
    assert make_predictions([0, 1, 2, 1], _sklearn_frame((0, 1, 2))).labels.tolist() == [0, 1, 2, 1]
    frame = _sklearn_frame(("cat", "dog", "bird"))
    assert make_predictions([0, 1, 2, 1], frame).labels.tolist() == [0, 1, 2, 1]
    with pytest.raises(AuditError, match=r"labels must lie in \[0, 2\]"):
        make_predictions([0, 1, 3, 1], frame)
