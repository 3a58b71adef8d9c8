"""Synthetic task generators, one per task, each seeded by a ``torch.Generator``."""
