"""migscope: see how QEMU live migration with VFIO devices and switchover-ack switches over."""

__version__ = "0.3.0"
