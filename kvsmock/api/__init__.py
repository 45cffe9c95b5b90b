"""The api layer: turns HTTP requests into service calls and shapes the answers."""
