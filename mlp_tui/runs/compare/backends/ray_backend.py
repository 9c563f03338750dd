"""The backend for `--ray`: a ClusterRunner over a RayCluster. Its own module so that Ray is
imported only after `import_ray` has checked it (ray_cluster.py imports Ray as it loads), and so
that cluster.py, which ray_cluster.py builds on, never imports ray_cluster.py back."""

from __future__ import annotations

from mlp_tui.runs.compare.backends import Backend, ClusterSpec, import_ray
from mlp_tui.runs.compare.backends.cluster import ClusterRunner


def cluster_backend(spec: ClusterSpec) -> Backend:
    """Joins the cluster now (ConfigError, exit 2, if it cannot)."""
    import_ray()
    from mlp_tui.runs.compare.backends.ray_cluster import RayCluster

    return ClusterRunner(RayCluster(spec), spec)
