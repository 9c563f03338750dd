"""Shared terms every layer uses: run settings, events, errors, datasets, presets."""
