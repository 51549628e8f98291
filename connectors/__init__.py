"""Connector packages, one per external system."""
