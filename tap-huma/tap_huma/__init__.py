"""tap-huma: Singer tap for the Huma HR Open API."""
