//! Time as the queue sees it: a [`Clock`] that reads an [`Instant`] of millisecond resolution.
//!
//! The queue never reads the operating system's clock directly. Production code passes a
//! [`SystemClock`]; tests pass a [`ManualClock`] and move time forward themselves, so a
//! visibility timeout runs out exactly when the test says so, the same way on real threads,
//! under loom and under shuttle.

use std::fmt;
use std::time::Duration;

use crate::sync::Arc;
use crate::sync::atomic::{AtomicU64, Ordering};

/// A point in time, in whole milliseconds since the clock's origin.
///
/// One tick is one millisecond. Durations are converted by rounding *up* to whole milliseconds
/// ([`Instant::saturating_add`]), so a non-zero visibility timeout never rounds down to "visible
/// now".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Instant(u64);

impl Instant {
    /// The clock's origin.
    pub const ZERO: Instant = Instant(0);

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + duration`, with `duration` rounded up to whole milliseconds; saturates at the
    /// largest instant instead of overflowing.
    pub fn saturating_add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(millis_ceil(duration)))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// `duration` in whole milliseconds, rounded up, saturating at `u64::MAX`.
pub(crate) fn millis_ceil(duration: Duration) -> u64 {
    // In u64 parts: `as_nanos` is a u128, whose division is a library call on every receive.
    let part = u64::from(duration.subsec_nanos().div_ceil(1_000_000));
    duration.as_secs().saturating_mul(1000).saturating_add(part)
}

/// A source of the current time.
///
/// Implementations must be monotonic (never go backwards); the queue additionally clamps every
/// reading to the latest one it has seen, so a misbehaving clock cannot un-expire a message.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// The machine's monotonic clock, in milliseconds since the `SystemClock` was made.
///
/// Read through [`quanta`]: the CPU's time-stamp counter where it is invariant (constant rate,
/// not stopped in sleep states), scaled by a calibration against the operating system's
/// monotonic clock (`clock_gettime(CLOCK_MONOTONIC)` on Linux), and that clock itself
/// elsewhere. A counter read costs a few nanoseconds where `std::time::Instant::now` costs
/// 20–30 on the machines coordlab is measured on, and a queue reads the clock once per
/// operation. Readings never go backwards for one `SystemClock` (and its clones); the queue
/// reads under its lock and treats an earlier reading as the latest it has seen, so a small
/// skew between cores cannot move its time back either.
#[derive(Clone, Debug)]
pub struct SystemClock {
    clock: quanta::Clock,
    /// The counter's raw reading at the origin.
    origin: u64,
}

impl SystemClock {
    /// A clock whose origin is now. The first in a process calibrates the counter against
    /// the operating system's clock (a few milliseconds); later ones clone that clock, so a
    /// queue made later costs no calibration and no CPU-feature probe (`quanta::Clock::new`
    /// asks the CPU with `cpuid` every time, which in a virtual machine traps to the
    /// hypervisor: 14–20 µs a call on the machines coordlab is measured on).
    pub fn new() -> SystemClock {
        static CLOCK: crate::sync::OnceLock<quanta::Clock> = crate::sync::OnceLock::new();
        let clock = CLOCK.get_or_init(quanta::Clock::new).clone();
        let origin = clock.raw();
        SystemClock { clock, origin }
    }
}

impl Default for SystemClock {
    fn default() -> SystemClock {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        // Truncating: `now` is a reading, not a deadline, so rounding down is the honest answer.
        Instant(self.clock.delta_as_nanos(self.origin, self.clock.raw()) / 1_000_000)
    }
}

/// A clock that only moves when told to. Clones share one time, so a test keeps a clone and
/// advances it while the queue (or a consumer thread) reads it.
#[derive(Clone)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at [`Instant::ZERO`].
    pub fn new() -> ManualClock {
        ManualClock::starting_at(Instant::ZERO)
    }

    /// A clock standing at `start`.
    pub fn starting_at(start: Instant) -> ManualClock {
        ManualClock {
            millis: Arc::new(AtomicU64::new(start.0)),
        }
    }

    /// Moves time forward by `duration` (rounded up to whole milliseconds) and returns the new
    /// time. Time never wraps: it saturates at the largest instant.
    pub fn advance(&self, duration: Duration) -> Instant {
        let step = millis_ceil(duration);
        // Release: a thread that reads the new time in `now()` (Acquire) also sees everything
        // this thread did before advancing, e.g. a test harness's notes about why time moved.
        // The read-modify-write keeps concurrent advances from losing each other's steps.
        let before = self
            .millis
            .fetch_update(Ordering::Release, Ordering::Relaxed, |t| {
                Some(t.saturating_add(step))
            })
            .unwrap_or_else(|t| t);
        Instant(before.saturating_add(step))
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        // Acquire: pairs with the Release in `advance()`.
        Instant(self.millis.load(Ordering::Acquire))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_milliseconds() {
        assert_eq!(Instant::ZERO.saturating_add(Duration::ZERO), Instant::ZERO);
        assert_eq!(
            Instant::ZERO.saturating_add(Duration::from_micros(1)),
            Instant::from_millis(1)
        );
        assert_eq!(
            Instant::from_millis(5).saturating_add(Duration::from_millis(10)),
            Instant::from_millis(15)
        );
        assert_eq!(
            Instant::from_millis(u64::MAX - 1).saturating_add(Duration::from_secs(1)),
            Instant::from_millis(u64::MAX)
        );
    }

    #[test]
    fn manual_clock_clones_share_one_time() {
        let clock = ManualClock::new();
        let other = clock.clone();
        assert_eq!(
            clock.advance(Duration::from_millis(7)),
            Instant::from_millis(7)
        );
        assert_eq!(other.now(), Instant::from_millis(7));
    }

    /// `millis_ceil` rounds up to whole milliseconds and saturates, as the u128 formula does.
    #[test]
    fn millis_ceil_rounds_up_and_saturates() {
        let reference =
            |d: Duration| u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_nanos(999_999),
            Duration::from_millis(1),
            Duration::from_nanos(1_000_001),
            Duration::new(2, 999_999_999),
            Duration::from_secs(u64::MAX / 1000),
            Duration::new(u64::MAX / 1000, 999_999_999),
            Duration::MAX,
        ] {
            assert_eq!(millis_ceil(d), reference(d), "{d:?}");
        }
    }

    /// The system clock starts near zero and does not go back.
    #[test]
    fn system_clock_readings_do_not_go_back() {
        let clock = SystemClock::new();
        let mut last = clock.now();
        assert!(last.as_millis() < 1000, "{last}");
        for _ in 0..10_000 {
            let now = clock.now();
            assert!(now >= last, "{now} after {last}");
            last = now;
        }
        let clone = clock.clone();
        assert!(clone.now() >= last);
    }

    /// The system clock counts milliseconds: after sleeping 20 ms it reads at least 20 ms
    /// more (a unit test, not a timing one: a slow machine only makes the reading larger).
    #[test]
    fn system_clock_counts_milliseconds() {
        let clock = SystemClock::new();
        let before = clock.now();
        crate::sync::thread::sleep(Duration::from_millis(20));
        let after = clock.now();
        // At least the 20 ms slept; not ns or µs (ten seconds have not passed).
        let elapsed = after.as_millis().checked_sub(before.as_millis());
        assert!(
            elapsed.is_some_and(|ms| (20..10_000).contains(&ms)),
            "{before} then {after}"
        );
    }

    /// A clock shared by reference or `Arc` reads the clock it points to.
    #[test]
    fn shared_clocks_read_the_clock_they_point_to() {
        let clock = ManualClock::starting_at(Instant::from_millis(40));
        assert_eq!(clock.now(), Instant::from_millis(40));
        clock.advance(Duration::from_millis(2));
        assert_eq!(Clock::now(&&clock), Instant::from_millis(42));
        assert_eq!(Arc::new(clock.clone()).now(), Instant::from_millis(42));
        assert_eq!(format!("{clock:?}"), "ManualClock(Instant(42))");
    }
}
