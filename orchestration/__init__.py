"""Examples of scheduling the taps as independent processes (see README.md here)."""
