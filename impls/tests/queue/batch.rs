//! The batch operations on one queue shared by two consumers while the clock moves: each
//! consumer takes a batch, processes it and deletes it with one `delete_batch`, so a batch
//! whose visibility ran out while it was held is partly redelivered to the other consumer and
//! partly refused as stale. Run under shuttle (random and PCT), which must show both races.
//!
//! Claims, on every execution:
//! - one result per receipt, and each result is the log's: an `Ok` is the log's `Delete` of that
//!   message and delivery by that consumer, an error the log's `Reject` with the same reason;
//! - every message ends deleted exactly once or dead-lettered, never both (`NoMessageLost`,
//!   and no message deleted twice);
//! - the whole log replays on the queue's sequential semantics ([`check_log`]).

#![cfg(shuttle)]

use std::time::Duration;

use coordlab_impls::clock::ManualClock;
use coordlab_impls::queue::{
    ConsumerId, Event, ProcessOutcome, QueueConfig, Rejection, RetryQueue,
};
use coordlab_impls::sync::{Arc, thread};

use super::delete_checks::{logged, not_resolved_once, note, returned, run_under_shuttle};
use super::harness::render_events;
use super::log_spec::check_log;

const MESSAGES: u32 = 4;
const MAX_RECEIVES: u32 = 2;
const VISIBILITY: Duration = Duration::from_millis(2);

/// One execution: 4 messages sent as one batch; two consumers each take two batches of up to
/// 2 (visibility 2 ms) and delete each batch in one call; a driver moves the clock 1 ms at a
/// time, 4 times. Then the main thread moves the clock past every deadline and drains what is
/// left in batches.
fn batch_consumers_race() {
    let clock = ManualClock::new();
    let config = QueueConfig::default()
        .with_max_receives(MAX_RECEIVES)
        .with_event_log(true);
    let queue = Arc::new(RetryQueue::<u32, _>::new(config, clock.clone()));
    queue.send_batch(0..MESSAGES);
    let driver = {
        let clock = clock.clone();
        thread::spawn(move || {
            for _ in 0..4 {
                clock.advance(Duration::from_millis(1));
                thread::yield_now();
            }
        })
    };
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let me = queue.consumer(ConsumerId(c));
                let mut calls = Vec::new();
                for _ in 0..2 {
                    let batch = me.receive_batch(2, VISIBILITY);
                    let receipts: Vec<_> = batch.iter().map(|d| d.receipt).collect();
                    for d in &batch {
                        me.record_process(&d.receipt, ProcessOutcome::Applied);
                    }
                    let results = me.delete_batch(&receipts);
                    assert_eq!(results.len(), receipts.len(), "one result per receipt");
                    calls.extend(receipts.into_iter().zip(results));
                }
                (ConsumerId(c), calls)
            })
        })
        .collect();
    driver.join().unwrap();
    let calls: Vec<_> = consumers.into_iter().map(|h| h.join().unwrap()).collect();
    clock.advance(Duration::from_millis(10));
    loop {
        let batch = queue.receive_batch(3, VISIBILITY);
        if batch.is_empty() {
            break;
        }
        let receipts: Vec<_> = batch.iter().map(|d| d.receipt).collect();
        for result in queue.delete_batch(&receipts) {
            result.expect("the sweeper's newest receipts delete");
        }
    }
    let counts = queue.counts();
    let events = queue.events();
    let fail = |claim: String| -> ! { panic!("{claim}\n{}", render_events(&events)) };
    if let Err(e) = check_log(&events, Some(MAX_RECEIVES), false, &counts) {
        fail(format!("the log does not replay: {e:?}"));
    }
    // Each consumer's results against the log: the n-th delete or refusal of that consumer is
    // the n-th result it got.
    for (consumer, results) in &calls {
        let returned = returned(*consumer, results).unwrap_or_else(|e| fail(e));
        let logged = logged(&events, *consumer);
        if logged != returned {
            fail(format!(
                "{consumer}: delete_batch returned {returned:?}, the log says {logged:?}"
            ));
        }
        for (_, _, refusal) in &returned {
            match refusal {
                None => note("DeletedInBatch"),
                Some(Rejection::StaleReceipt { .. }) => note("StaleDeleteRefusedInBatch"),
                Some(_) => note("GoneDeleteRefusedInBatch"),
            }
        }
    }
    if events
        .iter()
        .any(|r| matches!(r.event, Event::Receive { delivery: 2.., .. }))
    {
        note("MessageRedelivered");
    }
    let sent = events
        .iter()
        .filter(|r| matches!(r.event, Event::Send { .. }))
        .count();
    if sent != MESSAGES as usize {
        fail(format!("{sent} messages sent, not {MESSAGES}"));
    }
    let wrong = not_resolved_once(&events);
    if !wrong.is_empty() {
        fail(format!(
            "every message must end deleted or dead-lettered exactly once; (message, times): {wrong:?}"
        ));
    }
}

/// Under both schedulers, and across the executions of each: a batch delete refused as stale
/// (its batch lapsed and was redelivered to the other consumer), a redelivery and a batch
/// delete accepted all happened.
#[test]
fn batch_consumers_race_under_shuttle() {
    run_under_shuttle(
        batch_consumers_race,
        2_000,
        &[
            "DeletedInBatch",
            "StaleDeleteRefusedInBatch",
            "MessageRedelivered",
        ],
    );
}
