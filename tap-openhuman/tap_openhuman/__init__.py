"""tap-openhuman: Singer tap for the OpenHuman (tinyhumans.ai) API."""
