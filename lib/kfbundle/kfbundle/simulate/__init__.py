"""The embedded simulated model.

Our charms' real code runs under ops.testing, Charmhub apps are stand-ins, and one fake
Kubernetes serves all.
"""

from .engine import SimulatedModel, SimulationResult

__all__ = ["SimulatedModel", "SimulationResult"]
