"""The CLI's command groups. Each module has ``register(subparsers)``."""
