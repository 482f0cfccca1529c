"""The migration engine: a deterministic simulation of QEMU pre-copy live migration with
VFIO devices and switchover-ack. Pure: no web or database imports."""

from .scenario import Scenario
from .simulation import Simulation, simulate
from .trace import Trace

__all__ = ["Scenario", "Simulation", "Trace", "simulate"]
