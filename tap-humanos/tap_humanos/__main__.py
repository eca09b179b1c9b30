"""`python -m tap_humanos`."""

from tap_humanos.tap import TapHumanos

TapHumanos.cli()
