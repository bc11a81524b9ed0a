"""Unsupervised per-pixel change detection on bitemporal SAR pairs (QuakeSet task 4)."""
