"""`python -m tap_openhuman`."""

from tap_openhuman.tap import TapOpenHuman

TapOpenHuman.cli()
