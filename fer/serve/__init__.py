"""The web app (an optional extra, ``pip install -e .[serve]``): ``python -m fer serve`` → a REST API and a page.

* :mod:`fer.serve.app`: ``create_app(models, config=ServeConfig(...))``, the FastAPI app and its endpoints;
* the ``serve`` command (uvicorn) is :mod:`fer.cli.serve`;
* :mod:`fer.serve.images`, :mod:`fer.serve.uploads`: safe decoding of uploads (sniffed, size and pixel caps);
* :mod:`fer.serve.tracking`: re-exports the IoU tracker of :mod:`fer.inference.tracking` (face tracks);
* the load benchmark is :mod:`fer.benchmarks.serve` → ``results/bench_serve.json``;
* ``fer/serve/static/``: the page (plain HTML, CSS and JavaScript; works offline).

Importing this package needs nothing beyond the core install; :mod:`fer.serve.app` needs FastAPI.
"""
