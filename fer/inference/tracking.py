"""A simple IoU tracker: detections that overlap across video frames keep the same track id.

Generic on purpose (boxes in, tracks out), so the web app's stream and the video pipeline can share it::

    tracker = IoUTracker()
    for frame in frames:
        boxes = detect(frame)                       # [(x, y, w, h), ...]
        for track in tracker.update(boxes):         # same order as boxes
            print(track.id, track.box, track.hits)

Matching is greedy on intersection-over-union: the best-overlapping (track, box) pair is matched first,
pairs under ``min_iou`` never match, unmatched boxes start new tracks, and a track that goes unmatched for
more than ``max_missed`` consecutive frames is dropped. :meth:`Track.smooth` keeps an exponential moving
average of any per-frame vector (class probabilities, say) on the track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: A box ``(x, y, w, h)`` in pixels.
Box = tuple[int, int, int, int]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either is empty)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    """One tracked object: a stable ``id``, its latest ``box``, ``hits`` (frames matched), ``missed`` (frames since)."""

    id: int
    box: Box
    hits: int = 1
    missed: int = 0
    state: dict = field(default_factory=dict)

    def smooth(self, key: str, value: Sequence[float], alpha: float = 0.5) -> np.ndarray:
        """Blend ``value`` into the track's running average under ``key`` (``alpha``: weight of the new value)."""
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        new = np.asarray(value, dtype=np.float64)
        old = self.state.get(key)
        avg = new if old is None or np.shape(old) != new.shape else alpha * new + (1.0 - alpha) * old
        self.state[key] = avg
        return avg.copy()


class IoUTracker:
    """Greedy IoU matching of each frame's boxes to the tracks of the previous frames.

    Args:
        min_iou: the smallest overlap that continues a track (0 < min_iou <= 1).
        max_missed: frames a track survives without a match before it is dropped (>= 0).
    """

    def __init__(self, min_iou: float = 0.3, max_missed: int = 5):
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        self.min_iou, self.max_missed = float(min_iou), int(max_missed)
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so an old id is never reused)."""
        self.tracks = []

    def update(self, boxes: Sequence[Sequence[float]]) -> list[Track]:
        """Match this frame's ``boxes``; returns one :class:`Track` per box, in the order of ``boxes``."""
        boxes = [tuple(int(round(v)) for v in b) for b in boxes]
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        matched: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou:
                break
            if ti in used or bi in matched:
                continue
            track = self.tracks[ti]
            track.box, track.hits, track.missed = boxes[bi], track.hits + 1, 0
            matched[bi] = track
            used.add(ti)
        survivors = []
        for ti, track in enumerate(self.tracks):
            if ti not in used:
                track.missed += 1
                if track.missed > self.max_missed:
                    continue
            survivors.append(track)
        for bi, box in enumerate(boxes):
            if bi not in matched:
                matched[bi] = Track(self._next_id, box)
                self._next_id += 1
                survivors.append(matched[bi])
        self.tracks = survivors
        return [matched[bi] for bi in range(len(boxes))]
