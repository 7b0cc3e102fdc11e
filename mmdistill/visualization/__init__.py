"""Plots and pictures: per-class accuracy bars, detections and segments on test images."""
