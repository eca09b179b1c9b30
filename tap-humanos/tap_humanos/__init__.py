"""tap-humanos: Singer tap for the Humanos consent and credential request API."""
