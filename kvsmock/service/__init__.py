"""The service layer: streams, channels, configurations and their rules (no HTTP here)."""
