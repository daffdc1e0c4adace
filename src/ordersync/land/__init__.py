"""Landing: turn raw order payloads into versions and append them to cdp.orders_landing."""

from ordersync.land.lander import Lander, LandResult
from ordersync.land.records import Version, parse_order

__all__ = ["LandResult", "Lander", "Version", "parse_order"]
