"""Epicentre and hypocentre estimation from a bitemporal pair or a single image (QuakeSet tasks 3 and 7)."""
