"""Calibration: the file (one validator for read and write), the fits, and what ``rig calibrate`` does."""
