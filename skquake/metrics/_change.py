"""Per-pixel change-detection metrics (QuakeSet task 4)."""
