"""Local API emulators used by the tap test suites and benchmarks."""
