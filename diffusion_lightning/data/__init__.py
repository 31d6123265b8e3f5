"""LightningDataModules serving in-memory tensors."""

from .heartbeat import HeartbeatDataModule
from .points import PointsDataModule
from .swiss_roll import SwissRollDataModule
from .toys import ToyDataModule

__all__ = ["HeartbeatDataModule", "PointsDataModule", "SwissRollDataModule", "ToyDataModule"]
