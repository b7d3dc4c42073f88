"""Business calendars: which of a region's shifts are business time, and how much lies between two instants.

A region's shift recurs every UTC day at the same UTC time (daylight saving never moves
it). Each occurrence belongs to the region's *local date* at the instant it starts; it
is business time when that date is open: a business weekday that is not a public
holiday (the `holidays` library) or a closed date, or a re-opened date. A half day is
open from the shift's start until a UTC time of day.

Business time is kept per occurrence ("instance" k starts k days after the epoch plus
the shift's start) as its open length; blocks of instances hold running sums, cached,
so elapsed time is two look-ups and adding time is one bisection per block crossed.
All arithmetic is in integer microseconds.
"""
from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Container

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
BLOCK = 64  # shift instances (days) per cached block
CACHED_BLOCKS = 2048  # per region: about 350 years of days, a few MB at most
_MICROSECOND = timedelta(microseconds=1)


def to_us(t: datetime) -> int:
    """Microseconds since the epoch (aware datetimes; exact)."""
    return (t - EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class DayRule:
    """What a region's file says about its dates, beside the weekdays and holidays."""

    closed: frozenset[date] = frozenset()
    reopened: frozenset[date] = frozenset()
    half_days: tuple[tuple[date, int], ...] = ()  # (local date, open minutes from the shift's start)


class BusinessCalendar:
    """One region's business time: its shift on its open local dates.

    `holidays` is anything that answers `date in holidays` (a `holidays` library
    calendar, or a set in tests); `zone` converts a shift's start to its local date.
    """

    def __init__(self, region: str, shift_start_min: int, shift_len_min: int, zone: Any,
                 business_days: Container[int], holidays: Container[date], days: DayRule = DayRule()):
        self.region = region
        self.zone = zone
        self.business_days = business_days
        self.holidays = holidays
        self.days = days
        self._start_us = shift_start_min * MINUTE_US
        self._len_us = shift_len_min * MINUTE_US
        self._half = {d: m * MINUTE_US for d, m in days.half_days}
        self._lock = threading.Lock()  # holiday calendars fill themselves lazily: not thread-safe
        self._block: Callable[[int], tuple[int, ...]] = lru_cache(maxsize=CACHED_BLOCKS)(self._compute_block)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for worker processes: the lock and the cache are rebuilt, not sent."""
        state = self.__dict__.copy()
        del state["_lock"], state["_block"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._block = lru_cache(maxsize=CACHED_BLOCKS)(self._compute_block)

    def local_date(self, k: int) -> date:
        """The local date of instance k's start."""
        return from_us(k * DAY_US + self._start_us).astimezone(self.zone).date()

    def is_open(self, d: date) -> bool:
        """Whether a shift belonging to local date `d` is business time (at least in part)."""
        if d in self._half or d in self.days.reopened:
            return True
        return d.weekday() in self.business_days and d not in self.days.closed and d not in self.holidays

    def open_us(self, k: int) -> int:
        """Business microseconds of instance k, from its start."""
        d = self.local_date(k)
        half = self._half.get(d)
        if half is not None:
            return half
        return self._len_us if self.is_open(d) else 0

    def _compute_block(self, b: int) -> tuple[int, ...]:
        """Running sums of open time over the block's instances (BLOCK + 1 values, from 0)."""
        with self._lock:
            lens = [self.open_us(k) for k in range(b * BLOCK, (b + 1) * BLOCK)]
        cum = [0]
        for n in lens:
            cum.append(cum[-1] + n)
        return tuple(cum)

    def _place(self, t_us: int) -> tuple[int, int]:
        """(block, business µs from the block's first instance start to t)."""
        k = (t_us - self._start_us) // DAY_US
        b, i = divmod(k, BLOCK)
        cum = self._block(b)
        into = t_us - (k * DAY_US + self._start_us)
        return b, cum[i] + min(into, cum[i + 1] - cum[i])

    def elapsed_us(self, a_us: int, b_us: int) -> int:
        """Business µs in [a, b); 0 when b <= a."""
        if b_us <= a_us:
            return 0
        ba, xa = self._place(a_us)
        bb, xb = self._place(b_us)
        if ba == bb:
            return xb - xa
        return self._block(ba)[-1] - xa + sum(self._block(x)[-1] for x in range(ba + 1, bb)) + xb

    def add_us(self, t_us: int, amount_us: int) -> int:
        """The first instant at which [t, instant) holds `amount` of business time."""
        if amount_us <= 0:
            return t_us
        b, base = self._place(t_us)
        need = base + amount_us
        while True:
            cum = self._block(b)
            if need <= cum[-1]:
                j = bisect_left(cum, need) - 1  # cum[j] < need <= cum[j + 1]
                return (b * BLOCK + j) * DAY_US + self._start_us + need - cum[j]
            need -= cum[-1]
            b += 1
