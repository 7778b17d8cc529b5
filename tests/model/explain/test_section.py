"""The ``explanations`` section (audit.model.explain.section) through :func:`audit.run_audit`: Grad-CAM for Keras
models with a 4-D layer, occlusion (and why) for callables and Keras models without one; deterministic under the
seed; conforms to the schema; sanity figures of a small trained model against its randomised copy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.explain_fixtures import (CORNER, corner_callable, corner_images, corner_keras, keras_predict,
                                      preprocess)

import audit
from audit.errors import AuditError
from audit.model.explain.section import (REASON_NO_SPATIAL, REASON_NOT_KERAS, ExplainModel, check_layer,
                                         explain_mistakes)
from audit.result.schema import Explanations, conformance_errors


def _result(x, y, predict, n=6):
    """A minimal result whose gallery holds the first ``n`` images, predicted as the model predicts them."""
    probs = predict(x)
    pred = probs.argmax(axis=1)
    return {"class_names": ["white", "black"],
            "mistakes": [{"index": i, "sample_id": f"img{i}", "true": "?", "predicted": ["white", "black"][pred[i]],
                          "confidence": float(probs[i].max()), "thumbnail": None} for i in range(n)]}


def _callable_model(x):
    return ExplainModel(predict=corner_callable, load=lambda index: x[index], framework="python callable")


def _keras_model(model, x):
    return ExplainModel(predict=keras_predict(model), load=lambda index: x[index], framework="keras",
                        keras_model=model, preprocess=preprocess)


@pytest.fixture(scope="module")
def corner():
    return corner_images(8)


def _share(item) -> float:
    m = np.asarray(item["map"])  # 16 x 16: the 8-pixel corner is the top-left 4 x 4 cells (12 px: 6 x 6)
    return m[:6, :6].sum() / m.sum()


def test_a_callable_gets_occlusion_and_says_why(corner):
    x, y = corner
    section = explain_mistakes(_result(x, y, corner_callable), _callable_model(x), seed=0)
    assert conformance_errors(section, Explanations) == []
    assert section["method"] == "occlusion" and section["patch"] == [8, 8] and section["stride"] == [4, 4]
    assert section["reason"] == REASON_NOT_KERAS["python callable"] and section["layer"] is None
    assert len(section["items"]) == 6
    for item in section["items"]:
        m = np.asarray(item["map"])
        assert m.shape == (16, 16) and m.min() >= 0 and m.max() == 1.0
        assert _share(item) == pytest.approx(1.0)
        assert item["overlay"].startswith("data:image/png;base64,") and item["heatmap"].startswith("data:image/png")
    s = section["sanity"]
    assert s["randomization_rank_correlation"] is None and "Python callable" in s["randomization_note"]
    assert s["deletion_win_rate"] == 1.0 and s["verdicts"] == []


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_keras_model_gets_grad_cam_on_its_last_4d_layer(kind, corner):
    x, y = corner
    model = corner_keras(kind)
    section = explain_mistakes(_result(x, y, keras_predict(model)), _keras_model(model, x), seed=0)
    assert conformance_errors(section, Explanations) == []
    assert section["method"] == "grad-cam" and section["layer"] == "pad" and section["reason"] is None
    assert all(_share(item) == pytest.approx(1.0) for item in section["items"])
    s = section["sanity"]
    assert s["randomized_layers"] == ["logits"] and s["deletion_win_rate"] == 1.0


def test_a_keras_model_without_a_4d_layer_falls_back_to_occlusion_and_says_why(corner):
    from audit.model.quiet import import_keras

    keras = import_keras()
    x, y = corner
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(2, name="d"),
                              keras.layers.Activation("softmax")])
    w = np.zeros((32 * 32 * 3, 2), dtype=np.float32)
    corner_mask = np.zeros((32, 32, 3), dtype=bool)
    corner_mask[:CORNER, :CORNER] = True
    w[corner_mask.ravel(), 0], w[corner_mask.ravel(), 1] = 0.1, -0.1
    model.set_weights([w, np.array([-9.6, 9.6], dtype=np.float32)])
    section = explain_mistakes(_result(x, y, keras_predict(model)), _keras_model(model, x), seed=0)
    assert section["method"] == "occlusion" and section["reason"] == REASON_NO_SPATIAL
    assert all(_share(item) == pytest.approx(1.0) for item in section["items"])
    assert section["sanity"]["randomized_layers"] == ["d"]
    with pytest.raises(AuditError, match="no such layer"):
        check_layer(_keras_model(model, x), "conv")


def test_explain_layer_on_a_callable_is_refused(corner):
    x, _ = corner
    with pytest.raises(AuditError, match="names a layer of a Keras model; this model is python callable"):
        check_layer(_callable_model(x), "conv")


def test_maps_are_deterministic_under_the_seed(corner):
    x, y = corner
    model = corner_keras()
    result = _result(x, y, keras_predict(model))
    a = explain_mistakes(result, _keras_model(model, x), seed=5)
    b = explain_mistakes(result, _keras_model(model, x), seed=5)
    assert a == b
    c = explain_mistakes(_result(x, y, corner_callable), _callable_model(x), seed=5)
    d = explain_mistakes(_result(x, y, corner_callable), _callable_model(x), seed=5)
    assert c == d


@pytest.mark.slow
def test_sanity_figures_of_a_small_trained_model_against_its_randomised_copy(trained, small_data):
    """The seed network after one epoch on 300 images: its Grad-CAM maps against those of a copy with its two
    Dense layers re-initialised. A figure computed, not a quality claim: the randomised copy's maps must differ
    (rank correlation below 1), and every figure lies in its range."""
    from audit.model.artifacts import load_model
    from audit.model.source import saved_model_explainer

    model = load_model(trained.out_dir)
    x = small_data.x_test[:200]
    explainer = saved_model_explainer(model, x)
    probs = explainer.predict(x)
    result = {"class_names": list(small_data.class_names),
              "mistakes": [{"index": i, "sample_id": None, "true": "?",
                            "predicted": small_data.class_names[int(probs[i].argmax())], "confidence": 0.9,
                            "thumbnail": None} for i in range(24)]}
    section = explain_mistakes(result, explainer, seed=0)
    s = section["sanity"]
    assert section["method"] == "grad-cam"  # on the last 4-D output that is not a Dropout: the max-pooling
    assert type(model.get_layer(section["layer"])).__name__ == "MaxPooling2D"
    assert [type(model.get_layer(name)).__name__ for name in s["randomized_layers"]] == ["Dense", "Dense"]
    assert s["n_correlated"] > 0 and -1 <= s["randomization_rank_correlation"] < 1
    assert 0 <= s["deletion_win_rate"] <= 1
    # the same model as its own "randomised copy" (no layer re-initialised) correlates perfectly: the check's scale
    from audit.model.explain import sanity as S

    maps = [np.asarray(item["map"]) for item in section["items"]]
    assert S.mean_rank_correlation(maps, maps)[0] == pytest.approx(1.0)


def test_run_audit_with_a_callable_on_image_files(tmp_path):
    from helpers.image_fixtures import write_image_folder

    data = write_image_folder(tmp_path / "imgs", per_class=6, size=32, odd_sizes=False)
    source = audit.model_source(lambda x: np.full((len(x), 3), 1 / 3) + np.eye(3)[(x[:, 0, 0, 0] % 3)] * 0.5,
                                data)
    on = audit.run_audit(source, n_bootstrap=0, reproducible=True, notify=lambda line: None)
    ex = on.data["explanations"]
    assert ex["method"] == "occlusion" and len(ex["items"]) == len(on.data["mistakes"]) > 0
    assert [i["index"] for i in ex["items"]] == [m["index"] for m in on.data["mistakes"]]
    off = audit.run_audit(source, n_bootstrap=0, reproducible=True, explanations=False)
    assert off.data["explanations"]["items"] == [] and "turned off" in off.data["explanations"]["reason"]
    no_images = audit.run_audit(source, n_bootstrap=0, reproducible=True, images=False)
    assert no_images.data["explanations"]["method"] is None and "--no-images" in no_images.data["explanations"]["reason"]


def test_a_predictions_audit_says_why_it_has_no_maps():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=30)
    pred = audit.make_predictions(rng.integers(0, 3, 30), probs, ["a", "b", "c"])
    ex = audit.run_audit(pred, n_bootstrap=0).data["explanations"]
    assert ex["method"] is None and ex["items"] == [] and "needs the model in the loop" in ex["reason"]
    from audit.errors import OptionConflict

    with pytest.raises(OptionConflict, match="a predictions file has no model"):
        audit.run_audit(pred, n_bootstrap=0, explain_layer="conv")



def test_a_model_whose_layers_cannot_be_read_as_one_graph_falls_back_to_occlusion(corner):
    """Where the Keras model's layers cannot be read (an object standing in for an unusual subclass), occlusion
    is used and says why, and the randomisation check says why it did not run."""

    class Opaque:  # no .layers, no .inputs
        pass

    x, y = corner
    model = ExplainModel(predict=corner_callable, load=lambda index: x[index], framework="keras",
                         keras_model=Opaque(), preprocess=preprocess)
    section = explain_mistakes(_result(x, y, corner_callable), model, seed=0)
    assert section["method"] == "occlusion"
    assert section["reason"].startswith("Grad-CAM cannot read this Keras model's layers as one graph (AttributeError")
    assert section["sanity"]["randomization_note"].startswith("not run: the model could not be copied")
    assert section["sanity"]["deletion_win_rate"] == 1.0
    with pytest.raises(AuditError, match="cannot read this Keras model's layers as one graph"):
        check_layer(model, "conv")
