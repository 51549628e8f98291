"""The Shopify connector (GraphQL Admin API); so far only its loopback emulator, in ``.sandbox``."""
