"""`python -m tap_humanapi`."""

from tap_humanapi.tap import TapHumanApi

TapHumanApi.cli()
