"""Experiments: the functions each chapter runs to produce its numbers, and its
``reproduce(quick)`` for the claims registry. One module per chapter."""
