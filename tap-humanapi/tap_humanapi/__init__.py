"""tap-humanapi: Singer tap for Human API (humanapi.co)."""
