"""Benchmarks users can rerun: each measures one thing on this machine and writes ``results/bench_<what>.json``.

* :mod:`fer.benchmarks.data`: input-pipeline throughput (FERSequence, tf.data, Keras 2's ImageDataGenerator...);
* :mod:`fer.benchmarks.inference`: the default model's speed, batched and live (Keras, TFLite, whole pipeline);
* :mod:`fer.benchmarks.detect`: face-detector recall / precision / speed on composite scenes;
* :mod:`fer.benchmarks.serve`: the web app under load;
* :mod:`fer.benchmarks.landmarks`: FaceMesh landmark extraction speed.

They are commands, not library code: nothing in the rest of ``fer`` imports them.
"""
