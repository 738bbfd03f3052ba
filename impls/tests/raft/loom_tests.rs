//! The runtime's queues under loom: every interleaving of the threads that share a
//! `Mailbox` (the only memory the runtime's threads share besides the network's lock,
//! which is one `Mutex` taken for whole decisions). A server's own state — the core, its
//! storage, the state machine — belongs to its one thread, so the hand-off from commit to
//! apply is sequential code and not a loom subject.
//!
//! Bounds: none — loom explores every interleaving (no preemption bound; CI sets no
//! `LOOM_MAX_PREEMPTIONS`), two or three threads and two or three operations each; all three
//! tests together take under a second on 2 cores.

use coordlab_impls::raft::Mailbox;
use coordlab_impls::sync::{Arc, thread};

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Input {
    Tick,
    Message(u32),
}

/// Two senders and a blocking receiver: the receiver gets both messages, each once, and
/// never sleeps through a push (a lost wakeup would leave it blocked, which loom reports
/// as a deadlock).
#[test]
fn a_blocking_receiver_gets_every_message_once() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let senders: Vec<_> = (0..2)
            .map(|k| {
                let m = Arc::clone(&mailbox);
                thread::spawn(move || m.push(Input::Message(k), k == 1))
            })
            .collect();
        let mut got = vec![mailbox.recv(), mailbox.recv()];
        for s in senders {
            s.join().unwrap();
        }
        got.sort();
        assert_eq!(got, vec![Input::Message(0), Input::Message(1)]);
        assert!(mailbox.is_empty());
    });
}

/// The ticker's coalescing against a receiver: however the two interleave, a tick is never
/// waiting twice, and every tick pushed is received or still waiting (none lost).
#[test]
fn ticks_coalesce_and_none_is_lost() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let ticker = {
            let m = Arc::clone(&mailbox);
            thread::spawn(move || {
                let mut pushed = 0;
                for _ in 0..2 {
                    if m.push_unless(Input::Tick, |x| *x == Input::Tick) {
                        pushed += 1;
                    }
                    assert!(m.len() <= 1, "two ticks waiting");
                }
                pushed
            })
        };
        let first = mailbox.recv();
        assert_eq!(first, Input::Tick);
        let pushed = ticker.join().unwrap();
        let waiting = mailbox.drain().len();
        assert_eq!(1 + waiting, pushed, "a tick lost or made up");
    });
}

/// A crash empties a mailbox while a sender pushes: every message is either drained (the
/// runtime reports it lost) or still there for the restarted server, never both or neither.
#[test]
fn a_crash_drains_each_message_once() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let sender = {
            let m = Arc::clone(&mailbox);
            thread::spawn(move || {
                m.push(Input::Message(0), false);
                m.push(Input::Message(1), false);
            })
        };
        let drained = mailbox.drain();
        sender.join().unwrap();
        let after = mailbox.drain();
        let mut all: Vec<Input> = drained.iter().chain(&after).copied().collect();
        all.sort();
        assert_eq!(all, vec![Input::Message(0), Input::Message(1)]);
        // Order within the mailbox is the senders' order.
        if drained.len() == 1 {
            assert_eq!(drained[0], Input::Message(0));
        }
    });
}
