"""Text forms of Intacct values and the typed values they compare as.

Timestamps are `MM/DD/YYYY HH:MM:SS` in the API user's time zone, dates `MM/DD/YYYY`, booleans
`true`/`false`; an empty value is NULL. Typed values are what filters and sorting compare: int, epoch
seconds, date, Decimal, bool.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .objects import DataType

TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
DATE_FORMAT = "%m/%d/%Y"
_OFFSET = re.compile(r"^(?:GMT|UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")
# XML 1.0 cannot carry these characters, so no record may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_timezone(spec: str | tzinfo) -> tzinfo:
    """A time zone from an IANA name ("America/Los_Angeles") or a GMT offset ("-08:00", "-8", "+0530")."""
    if isinstance(spec, tzinfo):
        return spec
    match = _OFFSET.match(spec.strip())
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(spec)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {spec!r}: use an IANA name or an offset like -08:00") from exc


def gmt_offset(zone: tzinfo, at: datetime) -> str:
    """The zone's offset at `at`, as `readUserFormatting` reports it ("-08:00")."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_timestamp(epoch: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(epoch, zone).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str, zone: tzinfo) -> int:
    """Epoch seconds of a local `MM/DD/YYYY HH:MM:SS` (or `MM/DD/YYYY`, midnight); ValueError otherwise."""
    text = text.strip()
    local = datetime.strptime(text, TIMESTAMP_FORMAT if " " in text else DATE_FORMAT)
    return int(local.replace(tzinfo=zone).timestamp())


def to_epoch(value: Any, zone: tzinfo) -> int:
    """Epoch seconds from an aware datetime, an int, or local text."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
        return int(value.timestamp())
    if isinstance(value, int):
        return value
    return parse_timestamp(str(value), zone)


def parse_date(text: str) -> date:
    return datetime.strptime(text.strip(), DATE_FORMAT).date()


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "t", "1"):
        return True
    if lowered in ("false", "f", "0"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_decimal(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text!r}") from exc


def check_text(value: Any, field: str) -> str:
    if type(value) is not str:
        raise ValueError(f"{field} must be text, got {type(value).__name__}")
    if _NOT_XML.search(value):
        raise ValueError(f"{field} contains a character XML cannot carry")
    return value


def typed_value(datatype: DataType, text: str, zone: tzinfo) -> Any:
    """The comparable value of `text` for a field of `datatype`; ValueError when it does not parse."""
    match datatype:
        case DataType.INTEGER:
            return int(text.strip())
        case DataType.TIMESTAMP:
            return parse_timestamp(text, zone)
        case DataType.DATE:
            return parse_date(text)
        case DataType.BOOLEAN:
            return parse_bool(text)
        case DataType.DECIMAL | DataType.CURRENCY:
            return parse_decimal(text)
    return text


def _store_timestamp(value: Any, zone: tzinfo, field: str) -> tuple[str, int]:
    epoch = to_epoch(value, zone)
    return format_timestamp(epoch, zone), epoch


def _store_date(value: Any, zone: tzinfo, field: str) -> tuple[str, date]:
    day = value if isinstance(value, date) else parse_date(check_text(value, field))
    return day.strftime(DATE_FORMAT), day


def _store_bool(value: Any, zone: tzinfo, field: str) -> tuple[str, bool]:
    flag = value if isinstance(value, bool) else parse_bool(check_text(value, field))
    return ("true" if flag else "false"), flag


def _store_int(value: Any, zone: tzinfo, field: str) -> tuple[str, int]:
    number = value if isinstance(value, int) else int(check_text(value, field))
    return str(number), number


def _store_decimal(value: Any, zone: tzinfo, field: str) -> tuple[str, Decimal]:
    amount = value if isinstance(value, Decimal) else parse_decimal(str(value))
    return str(amount), amount


_STORERS = {
    DataType.TIMESTAMP: _store_timestamp,
    DataType.DATE: _store_date,
    DataType.BOOLEAN: _store_bool,
    DataType.INTEGER: _store_int,
    DataType.DECIMAL: _store_decimal,
    DataType.CURRENCY: _store_decimal,
}
TYPED_DATATYPES = frozenset(_STORERS)


def storer(datatype: DataType) -> Callable[[Any, tzinfo, str], tuple[str, Any]]:
    """For a typed datatype: value in any natural form, zone, field name -> (text as shown, typed value)."""
    return _STORERS[datatype]
