"""`python -m tap_humaans`."""

from tap_humaans.tap import TapHumaans

TapHumaans.cli()
