//! A delete that skips the clock ([`QueueCore::delete_needs_clock`]) is the delete that reads
//! it. Two queues on one clock get the same script: one with the event log off (so its deletes
//! skip the clock whenever the rule allows), one with it on (every delete reads the clock).
//! Every call must return the same, and the counts and dead-letter queues must agree at the end
//! — with clock moves right before deletes, deadlines passing unseen, and messages that have
//! used all their receives. Nothing between the steps reads the clock (`check_invariants`
//! does not), so no step has its time brought up to date by the test.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::clock::ManualClock;

#[derive(Clone, Debug)]
enum Step {
    Advance(u64),
    Send,
    Receive(u64),
    Delete(Index),
    Release(Index),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..6).prop_map(Step::Advance),
        Just(Step::Send),
        (1u64..6).prop_map(Step::Receive),
        any::<Index>().prop_map(Step::Delete),
        any::<Index>().prop_map(Step::Release),
    ]
}

fn run(max_receives: Option<u32>, steps: &[Step]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let mut config = QueueConfig::default();
    if let Some(max) = max_receives {
        config = config.with_max_receives(max);
    }
    let skipping = RetryQueue::<u32, _>::new(config.clone(), clock.clone());
    let reading = RetryQueue::<u32, _>::new(config.with_event_log(true), clock.clone());
    let mut receipts: Vec<(ReceiptHandle, ReceiptHandle)> = Vec::new();
    let mut body = 0;
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
            }
            Step::Send => {
                prop_assert_eq!(skipping.send(body), reading.send(body));
                body += 1;
            }
            Step::Receive(ms) => {
                let a = skipping.receive(Duration::from_millis(ms));
                let b = reading.receive(Duration::from_millis(ms));
                prop_assert_eq!(
                    a.as_ref()
                        .map(|d| (d.message, d.receive_count, d.visible_until)),
                    b.as_ref()
                        .map(|d| (d.message, d.receive_count, d.visible_until)),
                    "step {}: receive",
                    i
                );
                if let (Some(a), Some(b)) = (a, b) {
                    receipts.push((a.receipt, b.receipt));
                }
            }
            Step::Delete(pick) if !receipts.is_empty() => {
                let (a, b) = *pick.get(&receipts);
                let (x, y) = (skipping.delete(&a), reading.delete(&b));
                prop_assert_eq!(x.is_ok(), y.is_ok(), "step {}: delete {:?} / {:?}", i, x, y);
                if let (Err(x), Err(y)) = (x, y) {
                    prop_assert_eq!(x.rejection(), y.rejection(), "step {}: delete", i);
                }
            }
            Step::Release(pick) if !receipts.is_empty() => {
                let (a, b) = *pick.get(&receipts);
                let (x, y) = (skipping.release(&a), reading.release(&b));
                prop_assert_eq!(
                    x.is_ok(),
                    y.is_ok(),
                    "step {}: release {:?} / {:?}",
                    i,
                    x,
                    y
                );
                if let (Err(x), Err(y)) = (x, y) {
                    prop_assert_eq!(x.rejection(), y.rejection(), "step {}: release", i);
                }
            }
            Step::Delete(_) | Step::Release(_) => {}
        }
        skipping.check_invariants();
    }
    // Only now: `counts` and `dead_letters` read the clock and apply every deadline, so
    // calling them between steps would bring the skipping queue's time up to date and hide a
    // delete that should have read the clock itself.
    prop_assert_eq!(skipping.counts(), reading.counts(), "counts");
    prop_assert_eq!(
        skipping.dead_letters(),
        reading.dead_letters(),
        "dead letters"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_delete_that_skips_the_clock_is_the_delete_that_reads_it(
        max_receives in prop::option::of(1u32..3),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        run(max_receives, &steps)?;
    }
}

/// The case the rule exists for: the message has used its one receive, its deadline passes
/// with nothing else happening, and the delete right after must find it dead-lettered — so it
/// must read the clock even with the event log off.
#[test]
fn a_delete_right_after_an_exhausted_deadline_finds_the_message_dead_lettered() {
    let clock = ManualClock::new();
    let q = RetryQueue::<&str, _>::new(QueueConfig::default().with_max_receives(1), clock.clone());
    let id = q.send("a");
    let d = q.receive(Duration::from_millis(5)).unwrap();
    assert!(q.lock().delete_needs_clock(&d.receipt));
    clock.advance(Duration::from_millis(5));
    assert_eq!(
        q.delete(&d.receipt),
        Err(QueueError::MessageGone { message: id })
    );
    assert_eq!(q.dead_letters().len(), 1);
}
