"""Currencies: every amount keeps its own currency and gets one in the shop's reporting currency.

Rules (README "Configuration", docs/metrics.md "Currencies"):

- A purchase or refund event is in its ``currency`` (GBP when the event gives none); order exports
  (UCI layout, no currency column) are in ``SHOPVERSE_ORDER_EXPORT_CURRENCY`` (default GBP).
- The reporting currency is ``SHOPVERSE_REPORTING_CURRENCY``; unset, it is the currency of most
  revenue: the one whose sales (purchase items, non-cancellation export lines) sum highest over the
  whole clean history, each in its own units (GBP when there is no sale yet). A shop selling in
  several currencies should set it: the default can change as history grows, and the fact's
  ``reporting_currency`` column, and the check, show a table built under two.
- Exchange rates come from a CSV file the user provides (``SHOPVERSE_EXCHANGE_RATES``) with the
  header ``date,currency,rate``: ``rate`` is how many units of the *reporting currency* one unit of
  ``currency`` buys on ``date`` (reporting GBP: ``2024-03-04,USD,0.79`` means 1 USD = 0.79 GBP). A
  line dated D uses the latest rate dated on or before D, when it is at most
  ``SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS`` (default 7) days old; a later rate is never used.
- The reporting currency itself always converts at 1 and needs no file: a shop whose only currency
  is its reporting currency builds exactly as before.
- A line in a currency with no usable rate keeps its original amount and has NULL reporting amounts;
  the ``order_lines`` check says how much revenue (per currency, per day) is unconverted.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table

DEFAULT_CURRENCY = "GBP"  # the platform's currency before currencies were kept apart
DEFAULT_MAX_RATE_AGE_DAYS = 7
RATES_HEADER = ("date", "currency", "rate")
RATES_TABLE = "_exchange_rates"  # a temp table of the run: the validated file
_CODE = re.compile(r"[A-Z]{3}")


class ExchangeRateError(ValueError):
    """The exchange-rate file cannot be used; the message names the file and the lines."""


def _code(name: str, text: str) -> str:
    code = text.strip().upper()
    if not _CODE.fullmatch(code):
        raise ValueError(f"{name} must be a three-letter ISO 4217 currency code (e.g. GBP, USD, EUR), got {text!r}")
    return code


@dataclass(frozen=True)
class CurrencySettings:
    """How amounts are converted: read from the environment when a run builds the facts."""

    reporting_currency: str | None = None  # None: the currency of most revenue
    exchange_rates: Path | None = None  # the CSV file; None: no rates (only the reporting currency converts)
    max_rate_age_days: int = DEFAULT_MAX_RATE_AGE_DAYS
    order_export_currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if self.max_rate_age_days < 0:
            raise ValueError(f"SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS must be 0 or more, got {self.max_rate_age_days}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> CurrencySettings:
        """``SHOPVERSE_REPORTING_CURRENCY``, ``SHOPVERSE_EXCHANGE_RATES``,
        ``SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS`` and ``SHOPVERSE_ORDER_EXPORT_CURRENCY``; defaults otherwise."""
        values: dict[str, object] = {}
        if environ.get("SHOPVERSE_REPORTING_CURRENCY", "").strip():
            values["reporting_currency"] = _code("SHOPVERSE_REPORTING_CURRENCY", environ["SHOPVERSE_REPORTING_CURRENCY"])
        if environ.get("SHOPVERSE_ORDER_EXPORT_CURRENCY", "").strip():
            values["order_export_currency"] = _code("SHOPVERSE_ORDER_EXPORT_CURRENCY",
                                                    environ["SHOPVERSE_ORDER_EXPORT_CURRENCY"])
        if environ.get("SHOPVERSE_EXCHANGE_RATES", "").strip():
            values["exchange_rates"] = Path(environ["SHOPVERSE_EXCHANGE_RATES"].strip()).expanduser()
        if environ.get("SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS", "").strip():
            text = environ["SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS"]
            try:
                values["max_rate_age_days"] = int(text)
            except ValueError:
                raise ValueError(f"SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS must be a whole number of days, got {text!r}") from None
        return cls(**values)


def read_rates(path: Path) -> list[tuple[date, str, str]]:
    """The rows of an exchange-rate file, validated: ``[(date, currency, rate as text)]``.

    Raises ``ExchangeRateError`` naming the file and every bad line (up to 20): a missing file, a
    header other than ``date,currency,rate``, a date not written YYYY-MM-DD, a currency that is not
    three letters, a rate that is not a positive number, a (date, currency) given twice. Blank lines
    are skipped."""
    if not path.is_file():
        raise ExchangeRateError(f"exchange rates {path}: no such file (SHOPVERSE_EXCHANGE_RATES)")
    errors: list[str] = []
    rows: list[tuple[date, str, str]] = []
    seen: dict[tuple[date, str], int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            lines = list(csv.reader(handle))
        except (UnicodeDecodeError, csv.Error) as error:
            raise ExchangeRateError(f"exchange rates {path}: not a UTF-8 CSV file ({error})") from None
    if not lines or tuple(c.strip().lower() for c in lines[0]) != RATES_HEADER:
        found = ",".join(lines[0]) if lines else "an empty file"
        raise ExchangeRateError(f"exchange rates {path}: line 1: the header must be date,currency,rate, got {found!r}")
    for number, fields in enumerate(lines[1:], start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        where = f"line {number}"
        if len(fields) != 3:
            errors.append(f"{where}: expected 3 fields (date,currency,rate), got {len(fields)}")
            continue
        day_text, code_text, rate_text = (f.strip() for f in fields)
        try:
            day = date.fromisoformat(day_text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day_text) else None
        except ValueError:
            day = None
        code = code_text.upper()
        try:
            rate = Decimal(rate_text)
        except InvalidOperation:
            rate = None
        problems = []
        if day is None:
            problems.append(f"date {day_text!r} is not a date written YYYY-MM-DD")
        if not _CODE.fullmatch(code):
            problems.append(f"currency {code_text!r} is not a three-letter ISO 4217 code")
        if rate is None or not rate.is_finite() or rate <= 0:
            problems.append(f"rate {rate_text!r} is not a positive number")
        elif rate.as_tuple().exponent < -10 or rate >= Decimal("1e8"):
            problems.append(f"rate {rate_text!r} has more than 10 decimals or is 100,000,000 or more")
        if problems:
            errors.append(f"{where}: " + "; ".join(problems))
            continue
        if (day, code) in seen:
            errors.append(f"{where}: {day} {code} was already given on line {seen[(day, code)]}")
            continue
        seen[(day, code)] = number
        rows.append((day, code, rate_text))
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ExchangeRateError(f"exchange rates {path}: " + "; ".join(errors[:20]) + more)
    return rows


def reporting_currency(con: duckdb.DuckDBPyConnection, settings: CurrencySettings,
                       purchases: TableName | SqlText, exports: TableName | SqlText) -> str:
    """The configured reporting currency, else the currency of most revenue in the clean sources
    (``purchases``: ``sources.purchase_events``)."""
    if settings.reporting_currency:
        return settings.reporting_currency
    found = con.execute(load_sql(__file__, "most_revenue_currency", purchases=purchases, exports=exports),
                        {"export_currency": settings.order_export_currency, "default_currency": DEFAULT_CURRENCY}).fetchone()
    return found[0] if found else DEFAULT_CURRENCY


def load_rates(con: duckdb.DuckDBPyConnection, settings: CurrencySettings, reporting: str) -> TableName:
    """The validated rate file as the temp table ``_exchange_rates`` (rate_date, currency, rate), empty
    without a file. A rate given for the reporting currency itself must be 1: anything else means the
    file is quoted against another currency."""
    rows = read_rates(settings.exchange_rates) if settings.exchange_rates else []
    wrong = [(d, r) for d, c, r in rows if c == reporting and Decimal(r) != 1]
    if wrong:
        raise ExchangeRateError(
            f"exchange rates {settings.exchange_rates}: rates are units of the reporting currency {reporting} per unit "
            f"of the currency, so {reporting}'s own rate must be 1; got {wrong[0][1]} on {wrong[0][0]} (is the file "
            f"quoted against another currency? set SHOPVERSE_REPORTING_CURRENCY)")
    rates = table(RATES_TABLE)
    con.execute(load_sql(__file__, "exchange_rates", rates=rates),
                {"dates": [d for d, _, _ in rows], "currencies": [c for _, c, _ in rows], "rates": [r for _, _, r in rows]})
    return rates


def conversion_params(settings: CurrencySettings, reporting: str) -> dict[str, object]:
    """The parameters ``order_lines.sql`` converts with."""
    return {"reporting_currency": reporting, "export_currency": settings.order_export_currency,
            "default_currency": DEFAULT_CURRENCY, "max_rate_age_days": settings.max_rate_age_days}
