"""`python -m tap_huma`."""

from tap_huma.tap import TapHuma

TapHuma.cli()
