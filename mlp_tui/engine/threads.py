"""CPU threads that fit the machine now (`--threads auto`).

On a quiet machine two threads train an MLP faster than one; on a busy one (a browser, another
job) a second thread keeps waiting at every parallel region for a core it does not get, and
training can collapse tenfold. So `auto` times real training batches: one thread first (never
the disaster), reading meanwhile how many other cores sit idle; then one more thread per idle
core, cut short as soon as it is clearly slower; and keeps the faster. It does so at the start
of an epoch, and at once when the throughput halves or doubles (the machine got busy or quiet).

Trying a count that loses costs time, so a losing try is only repeated after the run has
trained for EXPLORE_FACTOR times what that try cost: exploring takes at most about
1/EXPLORE_FACTOR of the run.

The timed batches are training batches like any other (nothing is wasted or repeated), so
`auto` changes no result beyond the last bits of float sums, which do depend on the thread
count: the same seed and thread count give the same numbers; fix `--threads` to reproduce a run
bit for bit.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

import torch

PROBE_BATCHES = 4  # batches timed per candidate (after one to settle in)
PROBE_MIN_S = 0.02  # ... and at least this long, so the timer's grain does not matter
IDLE_WINDOW_S = 0.1  # one thread is timed this long when the idle cores can be read meanwhile
SWITCH_GAIN = 1.1  # another count must be this much faster to be taken (no flapping on noise)
SHIFT = 2.0  # throughput this many times lower or higher than when chosen: measure again
WINDOW_S = 0.5  # throughput is watched over windows of this long
EXPLORE_FACTOR = 20  # a losing try is repeated after 20x its cost in training time


def cpu_set() -> set[int]:
    """The cores this process may use (a container's or taskset's limit, not the machine's)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def cpu_cores() -> int:
    return max(1, len(cpu_set()))


def env_threads() -> int | None:
    """OMP_NUM_THREADS, when a user (or a batch system) set it: auto stays within it."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def read_idle(cpus: set[int]) -> tuple[int, int] | None:
    """Idle and total clock ticks of these cores since boot (Linux's /proc/stat); None elsewhere."""
    idle = total = 0
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                name, _, rest = line.partition(" ")
                if name[3:].isdigit() and name.startswith("cpu") and int(name[3:]) in cpus:
                    ticks = [int(v) for v in rest.split()[:8]]
                    idle, total = idle + ticks[3] + ticks[4], total + sum(ticks)  # idle + iowait
    except (OSError, ValueError, IndexError):
        return None
    return (idle, total) if total else None


def parse_threads(setting: str) -> int | None:
    """`auto` as None, else the fixed count."""
    return None if setting == "auto" else int(setting)


@dataclass(frozen=True)
class Choice:
    """A change of the thread count `auto` made, and why."""

    threads: int
    previous: int
    why: str


class ThreadTuner:
    """Sets torch's CPU threads: a fixed count, or (auto, on a CPU) the fastest of one thread and
    one more per idle core (up to `cap`), measured as training goes. Call `new_epoch()` before an
    epoch and `after_batch()` after every batch, which returns a Choice when the count changes."""

    def __init__(self, setting: str, cap: int | None = None, device_type: str = "cpu",
                 idle: Callable[[], tuple[int, int] | None] | None = None) -> None:  # fmt: skip
        fixed = parse_threads(setting)
        cpus = cpu_set()
        self.cap = max(1, cap or env_threads() or len(cpus))
        self.auto = fixed is None and device_type == "cpu" and self.cap > 1
        self.threads = fixed or self.cap
        torch.set_num_threads(self.threads)
        self._idle = idle or (lambda: read_idle(cpus))
        self._cores = len(cpus)
        self._round: list[int] = []  # counts still to time in this round
        self._timed: dict[int, float] = {}  # seconds per batch, this round
        self._tried: dict[int, tuple[int, float]] = {}  # batches and seconds each count ran, this round
        self._laps: list[float] = []  # the count being timed: seconds of each batch
        self._idle_at: tuple[int, int] | None = None  # idle ticks when one thread's timing began
        self._free: float | None = None  # idle cores while one thread trained, this round
        self._last = 0.0  # when the previous batch ended
        self._baseline = 0.0  # seconds per batch of the count chosen
        self._window: list[float] = []
        self._trained = 0.0  # training seconds since the last round
        self._owed = 0.0  # a losing try's cost, to be earned back before trying it again

    def label(self, since: str = "") -> str:
        """What the run headers say: `CPU (2 threads)`, `CPU (1 thread, auto since epoch 3)`."""
        plural = "s" if self.threads != 1 else ""
        mode = (", auto" + (f" since {since}" if since else "")) if self.auto else ""
        return f"CPU ({self.threads} thread{plural}{mode})"

    # -- the round of timings -----------------------------------------------------------------
    def new_epoch(self) -> None:
        if self.auto and not self._round and self._trained >= EXPLORE_FACTOR * self._owed:
            self._start_round()
        self._last = perf_counter()

    def _start_round(self) -> None:
        # One thread first: it is never the disaster, and while it trains the other cores show
        # whether they are idle. More threads are tried only on idle cores, and a count that is
        # slow anyway (the reading missed a job) is cut short against one thread's pace.
        self._round = [1]
        self._timed, self._tried, self._laps, self._trained = {}, {}, [], 0.0
        self._idle_at, self._free = None, None
        self._use(1)

    def _use(self, threads: int) -> None:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def paused(self, seconds: float) -> None:
        """Time spent paused is not training time."""
        self._last += seconds

    def after_batch(self) -> Choice | None:
        if not self.auto:
            return None
        now = perf_counter()
        lap, self._last = now - self._last, now
        if self._round:
            return self._time_candidate(lap)
        self._trained += lap
        return self._watch(lap)

    def _time_candidate(self, lap: float) -> Choice | None:
        candidate, best = self._round[0], self._timed.get(1)
        self._laps.append(lap)
        if candidate == 1 and len(self._laps) == 1:
            self._idle_at = self._idle()  # from the end of the settling-in batch
        timed = self._laps[1:]  # the first batch after a change settles the new thread pool in
        spent = sum(self._laps)
        window = IDLE_WINDOW_S if candidate == 1 and self._idle_at is not None else PROBE_MIN_S
        if best is not None and spent > best * (PROBE_BATCHES + 1) * SHIFT:
            self._timed[candidate] = spent / len(self._laps)  # clearly slower already: stop paying
        elif len(timed) >= PROBE_BATCHES and sum(timed) >= window:
            self._timed[candidate] = statistics.median(timed)
        else:
            return None
        self._tried[candidate] = (len(self._laps), spent)
        self._round.pop(0)
        self._laps = []
        if candidate == 1:
            more = self._more_threads()
            if more > 1:
                self._round.append(more)
                self._use(more)
                return None
        return self._decide()

    def _more_threads(self) -> int:
        """The count worth a try after one thread: one more per core that sat idle meanwhile."""
        now = self._idle()
        if self._idle_at is None or now is None or now[1] <= self._idle_at[1]:
            return self.cap  # no reading: the timing alone decides
        idle, total = now[0] - self._idle_at[0], now[1] - self._idle_at[1]
        self._free = idle / total * self._cores
        return min(self.cap, 1 + int(self._free + 0.5))

    def _decide(self) -> Choice | None:
        fastest = min(self._timed, key=self._timed.__getitem__)
        current = self._timed.get(self.threads)
        if current is not None and fastest != self.threads and self._timed[fastest] * SWITCH_GAIN > current:
            fastest = self.threads  # not enough faster to be worth a change
        # What trying the losers cost beyond training at the winner's pace.
        pace = self._timed[fastest]
        self._owed = sum(max(0.0, spent - n * pace) for n, spent in self._tried.values())
        self._baseline, self._window = pace, []
        self._use(fastest)
        if fastest == self.threads:
            return None
        previous, self.threads = self.threads, fastest
        if current is None:  # not timed: no idle core to run its other threads on
            why = f"the other cores are busy ({self._free or 0:.1f} of {self._cores - 1} idle)"
        else:
            why = f"{fastest} trains {current / max(pace, 1e-9):.1f}x faster than {previous} now"
        return Choice(fastest, previous, why)

    def _watch(self, lap: float) -> Choice | None:
        """Between rounds: a throughput that halved or doubled since the choice starts a round."""
        self._window.append(lap)
        if sum(self._window) < WINDOW_S or len(self._window) < PROBE_BATCHES:
            return None
        pace, self._window = statistics.median(self._window), []
        if self._baseline and not (self._baseline / SHIFT <= pace <= self._baseline * SHIFT):
            self._owed = 0.0  # the machine changed: what a try cost before says nothing now
            self._start_round()
        return None
