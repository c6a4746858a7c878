"""The performance harness: `make bench` (python -m bench). See docs/performance.md."""
