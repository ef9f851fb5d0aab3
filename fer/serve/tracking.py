"""The IoU tracker, re-exported: it lives in :mod:`fer.inference.tracking` (the video pipeline shares it)."""

from fer.inference.tracking import Box, IoUTracker, Track, iou

__all__ = ["Box", "IoUTracker", "Track", "iou"]
