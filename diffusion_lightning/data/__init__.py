"""LightningDataModules serving in-memory tensors."""

from .swiss_roll import SwissRollDataModule

__all__ = ["SwissRollDataModule"]
