"""Epicentre and hypocentre metrics (QuakeSet tasks 3 and 7)."""
