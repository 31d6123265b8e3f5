"""LightningDataModules serving in-memory tensors."""

from .heartbeat import HeartbeatDataModule
from .swiss_roll import SwissRollDataModule

__all__ = ["HeartbeatDataModule", "SwissRollDataModule"]
