"""Data sources: each a LightningDataModule that cuts batches from tensors in memory."""

from econdl.data.base import InMemoryDataModule, RegressionDataModule
from econdl.data.faces import GenderImageDataModule
from econdl.data.gdp import GDPDataModule
from econdl.data.kink import KinkDataModule
from econdl.data.linear import LinearDataModule
from econdl.data.loader import TensorBatches
from econdl.data.mnist import MNISTDataModule

__all__ = [
    "GDPDataModule",
    "GenderImageDataModule",
    "InMemoryDataModule",
    "KinkDataModule",
    "LinearDataModule",
    "MNISTDataModule",
    "RegressionDataModule",
    "TensorBatches",
]
