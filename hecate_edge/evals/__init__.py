"""Capability evaluations: commands that train small models and regenerate the
tables and plots of docs/EVALS.md (recall beyond the attention window).
Measured like speed: never thresholds in timed tests."""
