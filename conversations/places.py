"""Turning what people type or share into a point and an H3 resolution-7 cell, locally.

Outgoing's homescreen wants an H3 res-7 cell; we compute it with `h3` instead of a round
trip. Free-text places resolve through a small gazetteer of the cities we serve; anything
else gets a clear "share a location or give lat,lng" answer rather than a guess.
"""

from __future__ import annotations

import re

import h3

from conversations.types import GeoPoint

H3_RESOLUTION = 7

_COORDS = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*[, ]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")

PLACES: dict[str, GeoPoint] = {
    "brooklyn": GeoPoint(40.6782, -73.9442),
    "williamsburg": GeoPoint(40.7081, -73.9571),
    "dumbo": GeoPoint(40.7033, -73.9881),
    "park slope": GeoPoint(40.6710, -73.9814),
    "manhattan": GeoPoint(40.7831, -73.9712),
    "new york": GeoPoint(40.7128, -74.0060),
    "nyc": GeoPoint(40.7128, -74.0060),
    "harlem": GeoPoint(40.8116, -73.9465),
    "greenwich village": GeoPoint(40.7336, -74.0027),
    "san francisco": GeoPoint(37.7749, -122.4194),
    "sf": GeoPoint(37.7749, -122.4194),
    "mission": GeoPoint(37.7599, -122.4148),
    "the mission": GeoPoint(37.7599, -122.4148),
    "soma": GeoPoint(37.7785, -122.4056),
    "north beach": GeoPoint(37.8061, -122.4103),
    "paris": GeoPoint(48.8566, 2.3522),
    "le marais": GeoPoint(48.8590, 2.3620),
    "marais": GeoPoint(48.8590, 2.3620),
    "montmartre": GeoPoint(48.8867, 2.3431),
    "london": GeoPoint(51.5072, -0.1276),
    "shoreditch": GeoPoint(51.5260, -0.0780),
    "soho": GeoPoint(51.5136, -0.1365),
}


class UnknownPlace(ValueError):
    """The text is neither coordinates nor a place we know."""


def parse_coordinates(text: str) -> GeoPoint | None:
    match = _COORDS.match(text)
    if not match:
        return None
    lat, lng = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return GeoPoint(lat, lng)


def resolve_place(text: str) -> GeoPoint:
    point = parse_coordinates(text)
    if point is not None:
        return point
    name = " ".join(text.lower().replace(",", " ").split())
    name = name.removeprefix("near ").removeprefix("in ")
    for candidate in (name, name.split(" ")[0] if name else name):
        if candidate in PLACES:
            return PLACES[candidate]
    raise UnknownPlace(text)


def h3_cell(point: GeoPoint) -> str:
    return str(h3.latlng_to_cell(point.lat, point.lng, H3_RESOLUTION))


def known_places() -> list[str]:
    return sorted({name.title() for name in PLACES if len(name) > 3})
