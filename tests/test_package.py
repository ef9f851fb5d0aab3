"""The public surface: ``fer`` re-exports the everyday names lazily; ``fer.data`` has one ``__all__``."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest


def test_import_fer_loads_only_the_registrations_and_names_resolve_on_first_use():
    code = ("import json, sys; import fer; before = sorted(m for m in sys.modules if m.startswith('fer')); "
            "f = fer.load_classifier; print(json.dumps([before, f.__module__, 'fer.inference' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    before, module, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == ["fer", "fer.class_names", "fer.labels", "fer.landmarks", "fer.landmarks.layers", "fer.layers",
                      "fer.losses"]  # the modules that register Keras objects, nothing else
    assert module == "fer.inference.classifier" and loaded


def test_everyday_names():
    import fer
    from fer import TrainConfig, build, evaluate, load_classifier, load_dataset, train
    from fer.data.sources import load_dataset as reader
    from fer.inference.classifier import load_classifier as loader

    assert (load_classifier, load_dataset, build) == (loader, reader, sys.modules["fer.models"].build)
    assert TrainConfig is sys.modules["fer.train"].TrainConfig
    # fer.train / fer.evaluate stay the modules (import fer.train, monkeypatch "fer.train.x" work) ...
    assert train is sys.modules["fer.train"] is fer.train and evaluate is sys.modules["fer.evaluate"]
    assert evaluate.compute_metrics is sys.modules["fer.evaluate"].compute_metrics
    # ... and calling one calls its function
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    got = fer.evaluate(model, images, labels, classes=("a", "b", "c"))
    assert got["accuracy"] == evaluate.evaluate(model, images, labels, classes=("a", "b", "c"))["accuracy"]
    assert set(fer.__all__) >= {"load_classifier", "build", "train", "TrainConfig", "evaluate", "load_dataset"}
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fer.nope  # noqa: B018


def test_fer_data_exports_one_list():
    import fer.data
    from fer.data.pipeline import FERSequence

    assert fer.data.FERSequence is FERSequence and "FERSequence" in fer.data.__all__
    assert len(fer.data.__all__) == len(set(fer.data.__all__))
    assert all(hasattr(fer.data, name) for name in fer.data.__all__)


def test_the_docstring_examples_that_need_no_data_run():
    """Examples marked ``doctest: +SKIP`` need a dataset or a photo; the others run as written."""
    import doctest

    import fer.evaluate
    import fer.inference.classifier
    import fer.train
    import fer.training.config

    for module in (fer.training.config, fer.train, fer.evaluate, fer.inference.classifier):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{module.__name__}: {result.failed} docstring example(s) failed"
    assert doctest.testmod(fer.training.config).attempted >= 4
