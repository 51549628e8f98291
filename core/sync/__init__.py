"""The sync engine: connectors in, records stored, changes out — with retry, isolation and quarantine."""
