"""Dense bucket series with prefix sums: any window's summary in O(1).

The evaluator judges several windows per SLO on every tick; summing a 3-day
window of 10-second buckets bucket by bucket costs 25,920 additions. Keeping
running (prefix) sums per bucket makes each window two lookups. Outcomes land
mostly at the head; a late one rewrites the prefix sums after its bucket,
which the lateness allowance keeps to a few minutes of buckets.
"""

from __future__ import annotations

from itertools import accumulate

from portico_slo.domain.burn_rate import Counts, WindowSummary


class PrefixSeries:
    """Buckets from `first_key` on, every `bucket_seconds`, with running sums."""

    def __init__(self, first_key: int, bucket_seconds: int, timeslice_target: float = 0.0) -> None:
        self.first_key = first_key
        self.bucket_seconds = bucket_seconds
        self.timeslice_target = timeslice_target
        self._good: list[int] = []
        self._bad: list[int] = []
        # Running sums; index i holds the sum of buckets 0..i-1 (so index 0 is 0).
        self._cum_good = [0]
        self._cum_bad = [0]
        self._cum_good_slices = [0]
        self._cum_bad_slices = [0]
        self._cum_ratio = [0.0]

    def __len__(self) -> int:
        return len(self._good)

    @property
    def last_key(self) -> int:
        return self.first_key + (len(self._good) - 1) * self.bucket_seconds

    def add(self, key: int, counts: Counts) -> None:
        """Add counts to the bucket at `key` (a bucket start at or after the first)."""
        index = (key - self.first_key) // self.bucket_seconds
        if index < 0:
            raise ValueError(f"bucket {key} is before the series starts at {self.first_key}")
        settled = len(self._good)
        if index >= settled:
            gap = index + 1 - settled
            self._good += [0] * gap
            self._bad += [0] * gap
        self._good[index] += counts.good
        self._bad[index] += counts.bad
        self._recompute_from(min(index, settled))

    def _recompute_from(self, index: int) -> None:
        target = self.timeslice_target
        del self._cum_good[index + 1 :]
        del self._cum_bad[index + 1 :]
        del self._cum_good_slices[index + 1 :]
        del self._cum_bad_slices[index + 1 :]
        del self._cum_ratio[index + 1 :]
        goods, bads = self._good[index:], self._bad[index:]
        self._cum_good += accumulate(goods, initial=self._cum_good[index])
        self._cum_good.pop(index + 1)
        self._cum_bad += accumulate(bads, initial=self._cum_bad[index])
        self._cum_bad.pop(index + 1)
        judged = [
            WindowSummary.of_bucket(Counts(g, b), target) for g, b in zip(goods, bads, strict=True)
        ]
        self._cum_good_slices += accumulate(
            (j.good_slices for j in judged), initial=self._cum_good_slices[index]
        )
        self._cum_good_slices.pop(index + 1)
        self._cum_bad_slices += accumulate(
            (j.bad_slices for j in judged), initial=self._cum_bad_slices[index]
        )
        self._cum_bad_slices.pop(index + 1)
        self._cum_ratio += accumulate((j.ratio_sum for j in judged), initial=self._cum_ratio[index])
        self._cum_ratio.pop(index + 1)

    def summary(self, low: int, high: int) -> WindowSummary:
        """The buckets with keys in (low, high]."""
        lo = self._position(low)
        hi = self._position(high)
        if hi <= lo:
            return WindowSummary()
        return WindowSummary(
            Counts(self._cum_good[hi] - self._cum_good[lo], self._cum_bad[hi] - self._cum_bad[lo]),
            self._cum_good_slices[hi] - self._cum_good_slices[lo],
            self._cum_bad_slices[hi] - self._cum_bad_slices[lo],
            self._cum_ratio[hi] - self._cum_ratio[lo],
        )

    def _position(self, key: int) -> int:
        """How many buckets have keys <= key."""
        index = (key - self.first_key) // self.bucket_seconds + 1
        return min(max(index, 0), len(self._good))
