"""Cluster fixtures for the controller tests and the benchmark: CRDs, namespaces, manifests."""

from __future__ import annotations

import base64
from typing import Any

from dispatcher.handoff import HandoffEntry

S3_ACCESS_KEY = "AKIADISPATCHTEST0001"
S3_SECRET_KEY = "dispatcher-test-secret-key-0123456789abcd"

# A PodDefault CRD with a structural schema (kubeflow.org/v1alpha1, namespaced), written
# for the tests from the fields UPSTREAM.md lists.
PODDEFAULT_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "poddefaults.kubeflow.org"},
    "spec": {
        "group": "kubeflow.org",
        "names": {
            "kind": "PodDefault",
            "listKind": "PodDefaultList",
            "plural": "poddefaults",
            "singular": "poddefault",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": {
                                "type": "object",
                                "required": ["selector"],
                                "properties": {
                                    "desc": {"type": "string"},
                                    "selector": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "env": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                    },
                                    "envFrom": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                    },
                                    "serviceAccountName": {"type": "string"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}

LABEL = {"user.kubeflow.org/enabled": "true"}


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Namespace object."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def s3_secret(name: str = "mlpipeline-minio-artifact", secret: str = S3_SECRET_KEY) -> dict:
    """A Secret manifest with S3 credentials, as MLflow/KServe send them."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "annotations": {"serving.kserve.io/s3-endpoint": "minio:9000"}},
        "type": "Opaque",
        "data": {
            "AWS_ACCESS_KEY_ID": base64.b64encode(S3_ACCESS_KEY.encode()).decode(),
            "AWS_SECRET_ACCESS_KEY": base64.b64encode(secret.encode()).decode(),
        },
    }


def service_account(
    name: str = "kserve-controller-s3",
    secret: str = "kserve-s3",  # noqa: S107 - a Secret name
) -> dict:
    """A ServiceAccount manifest referring to a Secret."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name},
        "secrets": [{"name": secret}],
    }


def pod_default(name: str = "access-minio", env_value: str = "http://minio:9000") -> dict:
    """A PodDefault manifest (MLflow's access-minio)."""
    return {
        "apiVersion": "kubeflow.org/v1alpha1",
        "kind": "PodDefault",
        "metadata": {"name": name},
        "spec": {
            "desc": "Allow access to MinIO",
            "selector": {"matchLabels": {name: "true"}},
            "env": [{"name": "MLFLOW_S3_ENDPOINT_URL", "value": env_value}],
            "envFrom": [{"secretRef": {"name": "mlpipeline-minio-artifact"}}],
        },
    }


def config_map(name: str = "settings", value: str = "1") -> dict:
    """A ConfigMap manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"v": value},
    }


def role(name: str = "reader") -> dict:
    """A Role manifest."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }


def role_binding(name: str = "reader", sa: str = "default-editor") -> dict:
    """A RoleBinding manifest."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": sa}],
    }


ENDPOINT_OF_KIND = {
    "Secret": "secrets",
    "ServiceAccount": "service-accounts",
    "ConfigMap": "config-maps",
    "Role": "roles",
    "RoleBinding": "role-bindings",
    "PodDefault": "pod-defaults",
}


def entry(manifest: dict, source: str = "mlflow-server") -> HandoffEntry:
    """A handoff entry on the endpoint matching the manifest's kind."""
    return HandoffEntry(ENDPOINT_OF_KIND[manifest["kind"]], source, manifest)


def ten_manifests(version: str = "1") -> list[HandoffEntry]:
    """Ten manifests of every kind (the benchmark's set)."""
    manifests = [
        s3_secret("mlflow-s3"),
        s3_secret("kserve-s3"),
        service_account("kserve-sa", "kserve-s3"),
        service_account("mlflow-sa", "mlflow-s3"),
        config_map("mlflow-settings", version),
        config_map("kserve-settings", version),
        role("dispatch-reader"),
        role_binding("dispatch-reader"),
        pod_default("access-minio"),
        pod_default("mlflow-server-minio"),
    ]
    return [entry(m) for m in manifests]
