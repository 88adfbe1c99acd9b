"""Booking tickets through Outgoing: quote, approval, placing, webhook results.

Import from the submodules (`booking.placing`, `booking.webhook`, …); this package file stays
empty of imports so that `tools.context` can depend on `booking.config` without a cycle.
"""
