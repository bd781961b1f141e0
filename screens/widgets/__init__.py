"""Widgets every screen shares: plain-text boxes and tables for data, the header line, pages, results, the wand."""
