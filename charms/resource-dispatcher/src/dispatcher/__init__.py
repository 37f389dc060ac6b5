"""resource-dispatcher's controller: copies manifests into every labelled namespace.

The charm pushes this package, and the Python packages it needs from the charm's own
environment, into a stock Python image and runs it with Pebble::

    python3 -m dispatcher --manifests /etc/dispatcher/manifests.json \
        --label user.kubeflow.org/enabled=true \
        --owner resource-dispatcher --owner-namespace kubeflow

Modules:
- `handoff`: the manifests file the charm writes and the controller reads (stdlib only; the
  charm imports it too);
- `kube`: lightkube resource classes and the labels/annotations of dispatched objects;
- `reconciler`: the event-driven core (namespace and manifest changes -> minimal writes);
- `runner`: watches, the manifests-file poller, retries, the status file;
- `metrics`: Prometheus text exposition and health endpoints (stdlib http.server);
- `vendor`: unpacks the dependency bundle the charm pushed (stdlib only).
"""

__version__ = "1.0.0"
