"""Splitters: by earthquake event, the file's own splits, and across regions."""
from ._region import RegionTransferSplit, region_generalization
from ._split import EventKFold, file_split, predefined_split

__all__ = ["EventKFold", "RegionTransferSplit", "file_split", "predefined_split", "region_generalization"]
