"""Training presets shipped as TOML files: read them, copy them, pass your own with --config."""
