"""Instruments (PHQ-9, GAD-7, pain, C-SSRS, CADSS, FIQR, and any a clinic adds) as data."""
