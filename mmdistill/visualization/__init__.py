"""Plots: per-class accuracy bars."""
