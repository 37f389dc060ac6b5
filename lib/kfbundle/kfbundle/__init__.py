"""Operator toolkit for the Kubeflow-on-Juju bundle."""

__version__ = "0.1.0"
