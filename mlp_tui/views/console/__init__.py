"""Views for a terminal without the app: the headless printer and printed tables."""
