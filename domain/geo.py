"""The city's bounds: a pin outside them is most likely a mistake."""

from __future__ import annotations

from dataclasses import dataclass

from domain.dialog.events import GeoPoint


@dataclass(frozen=True, slots=True)
class Bounds:
    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    def __post_init__(self) -> None:
        if not (self.min_lat < self.max_lat and self.min_lon < self.max_lon):
            raise ValueError("city bounds must have min < max for latitude and longitude")

    def contains(self, point: GeoPoint) -> bool:
        return (
            self.min_lat <= point.latitude <= self.max_lat
            and self.min_lon <= point.longitude <= self.max_lon
        )
