"""Torch-free text output shared by every view."""
