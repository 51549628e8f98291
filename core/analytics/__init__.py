"""Loyalty analytics: reports computed in SQL per Asia/Tokyo month, kept in ``report_cache``.

Start at ``core.analytics.book.ReportBook`` (read or compute a report) and ``core.analytics.views`` (what the
console and API show of one). Each report module's docstring defines its figures; docs/analytics.md is the
reference. The package imports nothing eagerly: ``core.loyalty.rules`` reads ``core.analytics.settings``.
"""
