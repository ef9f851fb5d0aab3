"""The pieces of :func:`fer.train.train`, one job per module (import the public names from :mod:`fer.train`).

* :mod:`fer.training.config` — :class:`~fer.training.config.TrainConfig`, :class:`~fer.training.config.Phase` and
  their checks.
* :mod:`fer.training.run` — stage 1, :func:`~fer.training.run.plan_run` (nothing written), and the run-folder state.
* :mod:`fer.training.stages` — stages 2-4: prepare the run, fit the phases, finish (models, evaluation, ``run.json``).
* :mod:`fer.training.models` — the fit model and the saved classifier, trainable layers, ``init_from``.
* :mod:`fer.training.optim` — schedule, optimizer, loss, metrics, precision policy.
* :mod:`fer.training.history` — ``history.csv`` / ``history.json``.
* :mod:`fer.training.losses` — losses by name and the ArcFace training model.
"""
