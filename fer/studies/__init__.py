"""Studies users can rerun: each trains several models under one protocol and writes ``results/<study>/``.

``python -m fer study architectures --data fer2013.csv`` is the course's central comparison
(:mod:`fer.studies.architectures`).
"""
