"""FaceMesh graphs for the landmark GNN: named edge sets (``"anatomical"``, ``"mesh"``) and their normalised adjacency.

``"anatomical"`` is the graph of the source project: the contour edge sets of lips, both eyes, both
eyebrows, the nose and the face oval (149 edges), plus both irises on the 478-point model (157 edges);
318 of the 478 nodes (308 of 468) touch none of them and are isolated. ``"mesh"`` is FaceMesh's full
triangle tesselation (1,322 undirected edges) in which every one of the 468 points has neighbours.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from fer.landmarks import connections as c

GRAPHS: tuple[str, ...] = ("anatomical", "mesh")


def edge_set(graph: str, num_nodes: int = 468) -> list[tuple[int, int]]:
    """The undirected edges ``(i, j)``, ``i < j``, sorted, of a named graph over ``num_nodes`` points.

    Args:
        graph: ``"anatomical"`` or ``"mesh"``.
        num_nodes: 468 (FaceMesh) or 478 (with irises; only ``"anatomical"`` adds iris edges).

    Raises:
        ValueError: an unknown graph name or node count.
    """
    if num_nodes not in (468, 478):
        raise ValueError(f"num_nodes must be 468 (FaceMesh) or 478 (FaceMesh with irises), got {num_nodes}")
    if graph == "anatomical":
        sets = [c.FACEMESH_LIPS, c.FACEMESH_LEFT_EYE, c.FACEMESH_RIGHT_EYE, c.FACEMESH_LEFT_EYEBROW,
                c.FACEMESH_RIGHT_EYEBROW, c.FACEMESH_NOSE, c.FACEMESH_FACE_OVAL]
        if num_nodes == 478:
            sets.append(c.FACEMESH_IRISES)
        edges = frozenset().union(*sets)
    elif graph == "mesh":
        edges = c.FACEMESH_TESSELATION
    else:
        raise ValueError(f"graph must be one of {GRAPHS}, got {graph!r}")
    return sorted({(min(i, j), max(i, j)) for i, j in edges if i != j})


def isolated_nodes(graph: str, num_nodes: int = 468) -> np.ndarray:
    """Indices of the nodes no edge of ``graph`` touches."""
    touched = np.zeros(num_nodes, bool)
    for i, j in edge_set(graph, num_nodes):
        touched[i] = touched[j] = True
    return np.flatnonzero(~touched)


@lru_cache(maxsize=8)
def normalized_edges(graph: str, num_nodes: int = 468) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sparse normalised adjacency ``Â = D^-1/2 (A + I) D^-1/2`` (Kipf & Welling 2017) as messages.

    Returns:
        ``(src, dst, weight)``: ``int32`` / ``int32`` / ``float32`` arrays, one row per directed edge
        and per self-loop, so that ``(Â H)[i] = Σ_{k: dst[k] = i} weight[k] · H[src[k]]``. An isolated
        node has only its self-loop, with weight 1.
    """
    edges = np.array(edge_set(graph, num_nodes), dtype=np.int64).reshape(-1, 2)
    loops = np.arange(num_nodes)
    src = np.concatenate([edges[:, 0], edges[:, 1], loops])
    dst = np.concatenate([edges[:, 1], edges[:, 0], loops])
    degree = np.bincount(dst, minlength=num_nodes).astype(np.float64)
    weight = 1.0 / np.sqrt(degree[src] * degree[dst])
    order = np.argsort(dst, kind="stable")
    return src[order].astype(np.int32), dst[order].astype(np.int32), weight[order].astype(np.float32)


def dense_adjacency(graph: str, num_nodes: int = 468) -> np.ndarray:
    """``Â`` as a dense ``num_nodes x num_nodes`` ``float32`` matrix (for tests and plots)."""
    src, dst, w = normalized_edges(graph, num_nodes)
    a = np.zeros((num_nodes, num_nodes), np.float32)
    np.add.at(a, (dst, src), w)
    return a
