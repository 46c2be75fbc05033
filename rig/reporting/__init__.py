"""Reporting: the run report (HTML, PNG), its plots, and comparisons of many runs (terminal, CSV, HTML)."""
