//! The scenarios, written once. Each is a [`Scenario`] value; every engine runs the same
//! `harness::run` on it. Small ones are sized for loom's exhaustive search; busy ones for
//! shuttle's sampling (and real threads run them all).

// loom runs only the small scenarios (the busy ones are shuttle-sized), so under loom some of
// this module is unused.
#![cfg_attr(loom, allow(dead_code))]

use std::collections::BTreeMap;

use coordlab_impls::queue::{Event, MessageId};

use super::harness::{EffectMode, Fault, Faults, Report, Retry, Scenario, render_events};

/// Two consumers race for one message while the clock runs its visibility timeout out: at most
/// one delete succeeds, and the message ends deleted or is still there for the sweep.
pub fn receive_delete_expiry() -> Scenario {
    Scenario::tiny()
}

/// As [`receive_delete_expiry`], but consumers heartbeat (`change_visibility`) before
/// processing and abandon the delivery if the heartbeat is refused as stale.
pub fn heartbeat_vs_expiry() -> Scenario {
    Scenario {
        heartbeat: true,
        ..Scenario::tiny()
    }
}

/// Every delivery fails and its consumer releases it (retry at once); with
/// `max_receives = 2` the message must end in the dead-letter queue exactly once, after its
/// second receive, racing the clock ([`assert_dead_lettered_once`]). Each consumer makes two
/// receive attempts, so whatever the interleaving one of them receives the message a second
/// time (an attempt that finds it held by the other is followed by one that finds it back),
/// and the sweeper never gets it.
pub fn release_until_dead_letter() -> Scenario {
    Scenario {
        retry: Retry::Immediate,
        max_receives: Some(2),
        receive_attempts: 2,
        faults: Faults::Fixed(vec![
            (0, 0, Fault::FailProcessing),
            (0, 1, Fault::FailProcessing),
            (1, 0, Fault::FailProcessing),
            (1, 1, Fault::FailProcessing),
        ]),
        ..Scenario::tiny()
    }
}

/// [`release_until_dead_letter`]'s claim, on a run's report: m0 was dead-lettered exactly
/// once, after exactly two receives, while the consumer threads ran (not by the sweep), and
/// never deleted.
pub fn assert_dead_lettered_once(report: &Report) {
    let m0 = MessageId::new(0);
    let moved: Vec<u32> = report
        .events
        .iter()
        .filter_map(|r| match r.event {
            Event::MoveToDeadLetter {
                message,
                receive_count,
            } if message == m0 => Some(receive_count),
            _ => None,
        })
        .collect();
    let by_consumers = report.events[..report.sweep_from]
        .iter()
        .any(|r| matches!(r.event, Event::MoveToDeadLetter { .. }));
    assert!(
        moved == [2]
            && by_consumers
            && report.deleted.is_empty()
            && report.dead_lettered == BTreeMap::from([(m0, 2)]),
        "m0 should be dead-lettered once after 2 receives while the consumers ran, and never deleted; dead-letter moves {moved:?}, deleted {:?}, dead-letter queue {:?}\n{}",
        report.deleted,
        report.dead_lettered,
        render_events(&report.events)
    );
}

/// A consumer crashes holding the message; the other consumer and the clock race to recover
/// it. With the idempotency ledger, the effect happens at most once.
pub fn crash_and_redeliver_idempotent() -> Scenario {
    Scenario {
        faults: Faults::Fixed(vec![(0, 0, Fault::CrashAfterProcess)]),
        effects: EffectMode::Idempotent,
        check_effect_at_most_once: true,
        receive_attempts: 2,
        clock_ticks: 1,
        ..Scenario::tiny()
    }
}

/// The small scenarios, by name.
pub fn small() -> Vec<(&'static str, Scenario)> {
    vec![
        ("receive_delete_expiry", receive_delete_expiry()),
        ("heartbeat_vs_expiry", heartbeat_vs_expiry()),
        ("release_until_dead_letter", release_until_dead_letter()),
        (
            "crash_and_redeliver_idempotent",
            crash_and_redeliver_idempotent(),
        ),
        ("slow_consumer_then_crash", slow_consumer_then_crash()),
        ("crash_before_process", crash_before_process()),
        ("three_consumers_race", three_consumers_race()),
        ("two_messages_with_crash", two_messages_with_crash()),
    ]
}

/// The claim the small scenario `name` makes beyond the properties every run is checked for,
/// as a check of a run's report that panics when it fails (most scenarios make none).
pub fn claim(name: &str) -> fn(&Report) {
    match name {
        "release_until_dead_letter" => assert_dead_lettered_once,
        _ => |_| {},
    }
}

/// Four consumers, a producer thread, random crashes and failed processing, clock jumps,
/// dead-lettering after 3 receives, under `retry`.
pub fn busy(retry: Retry) -> Scenario {
    Scenario {
        retry,
        ..Scenario::busy()
    }
}

/// [`busy`] with heartbeats and idempotent effects: the effect must happen at most once.
pub fn busy_idempotent() -> Scenario {
    Scenario {
        effects: EffectMode::Idempotent,
        check_effect_at_most_once: true,
        heartbeat: true,
        ..Scenario::busy()
    }
}

/// The three retry policies the busy scenarios run under.
pub fn retry_policies() -> [Retry; 3] {
    [
        Retry::Immediate,
        Retry::RequeueOnExpiry,
        Retry::Backoff {
            base_ms: 2,
            cap_ms: 8,
        },
    ]
}

/// The busy scenarios, by name.
pub fn busy_all() -> Vec<(String, Scenario)> {
    let mut all: Vec<(String, Scenario)> = retry_policies()
        .into_iter()
        .map(|r| (format!("busy_{r:?}"), busy(r)))
        .collect();
    all.push(("busy_idempotent".to_owned(), busy_idempotent()));
    all
}

/// A slow consumer's lease runs out; consumer 1, which may then receive the message, crashes
/// before processing its first delivery. The message must survive for the sweep. (Under the
/// `stale-receipt-delete` bug the slow consumer's stale delete removes it: lost.)
pub fn slow_consumer_then_crash() -> Scenario {
    Scenario {
        faults: Faults::Fixed(vec![(1, 0, Fault::CrashBeforeProcess)]),
        ..Scenario::tiny()
    }
}

/// Consumer 0 crashes before processing its first delivery. (Under the
/// `delete-before-process` bug it has already deleted it: lost.)
pub fn crash_before_process() -> Scenario {
    Scenario {
        faults: Faults::Fixed(vec![(0, 0, Fault::CrashBeforeProcess)]),
        ..Scenario::tiny()
    }
}

/// Three consumers race for one message against the clock: the largest thread count loom
/// allows here (main + 3 consumers + clock driver = loom's limit of 5 threads).
pub fn three_consumers_race() -> Scenario {
    Scenario {
        consumers: 3,
        ..Scenario::tiny()
    }
}

/// Two messages, two consumers with two attempts each, the second consumer crashing before
/// processing its first delivery, and the clock expiring leases: redelivery of one message
/// interleaves with the first delivery of the other.
pub fn two_messages_with_crash() -> Scenario {
    Scenario {
        messages: 2,
        receive_attempts: 2,
        faults: Faults::Fixed(vec![(1, 0, Fault::CrashBeforeProcess)]),
        ..Scenario::tiny()
    }
}
