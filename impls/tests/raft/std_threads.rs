//! The workloads on std threads, with real ticks.

use super::harness::{Scenario, render_records, run};

#[test]
fn three_servers_serve_clients_and_keep_every_property() {
    let s = Scenario {
        ops_per_client: 5,
        ..Scenario::base(3)
    };
    let report = run(&s);
    assert!(
        report.violations.is_empty(),
        "{:?}\n{}",
        report.violations,
        render_records(&report.records)
    );
    assert_eq!(
        report.answered, 10,
        "every operation answered: {:?}",
        report.history
    );
    assert_eq!(report.timed_out, 0);
    // The no-op of the first term and one entry per write (gets are reads, not entries).
    let writes = report
        .history
        .iter()
        .filter(|h| {
            matches!(h, super::harness::HistoryEvent::Invoke { op, .. }
                if !matches!(op, coordlab_impls::raft::KvOp::Get { .. }))
        })
        .count() as u64;
    assert!(
        report.applied > writes,
        "applied up to {} for {writes} writes",
        report.applied
    );
    assert!(!report.leaders.is_empty());
}

/// Group commit: a batch of requests and messages is one durable write, and its answers are
/// the ones the requests get one at a time.
#[test]
fn a_batch_of_requests_is_one_durable_write() {
    use coordlab_impls::raft::{
        Config, Durable, KvInput, KvNode, KvOp, KvOutput, KvRequest, NodeId, Persist, Storage,
        StorageError,
    };
    use std::cell::Cell;
    use std::rc::Rc;

    /// In-memory storage that counts its writes.
    struct Counting(coordlab_impls::raft::MemStorage, Rc<Cell<usize>>);
    impl Storage for Counting {
        fn load(&mut self) -> Result<Durable, StorageError> {
            self.0.load()
        }
        fn persist(&mut self, p: &Persist) -> Result<(), StorageError> {
            self.1.set(self.1.get() + 1);
            self.0.persist(p)
        }
    }

    let ids: Vec<NodeId> = (0..3).map(NodeId).collect();
    let writes: Vec<Rc<Cell<usize>>> = (0..3).map(|_| Rc::new(Cell::new(0))).collect();
    let mut nodes: Vec<KvNode<Counting, u64>> = ids
        .iter()
        .map(|&id| {
            let storage = Counting(Default::default(), Rc::clone(&writes[id.0 as usize]));
            KvNode::new(Config::new(id, ids.clone()), storage).unwrap()
        })
        .collect();
    let mut replies = Vec::new();
    let mut pending = nodes[0].campaign_now().unwrap().messages;
    let mut settle = |nodes: &mut Vec<KvNode<Counting, u64>>, mut pending: Vec<_>| {
        while !pending.is_empty() {
            let mut next = Vec::new();
            for e in pending {
                let e: coordlab_impls::raft::Envelope = e;
                let out = nodes[e.to.0 as usize].step(e).unwrap();
                replies.extend(out.replies);
                next.extend(out.messages);
            }
            pending = next;
        }
    };
    settle(&mut nodes, std::mem::take(&mut pending));
    let before = writes[0].get();
    let batch: Vec<KvInput<u64>> = (0..10)
        .map(|k| {
            KvInput::Request(
                k,
                KvRequest {
                    client: 1,
                    seq: k + 1,
                    op: KvOp::Put {
                        key: format!("k{k}"),
                        value: format!("v{k}"),
                    },
                },
            )
        })
        .collect();
    let out = nodes[0].batch(batch).unwrap();
    assert_eq!(
        writes[0].get() - before,
        1,
        "ten requests, one durable write"
    );
    settle(&mut nodes, out.messages);
    let mut answered: Vec<u64> = replies
        .iter()
        .filter(|(_, r)| *r == Ok(KvOutput::Written))
        .map(|(t, _)| *t)
        .collect();
    answered.sort();
    assert_eq!(answered, (0..10).collect::<Vec<_>>());
    for k in 0..10 {
        assert_eq!(
            nodes[0]
                .state_machine()
                .get(&format!("k{k}"))
                .map(String::as_str),
            Some(format!("v{k}").as_str())
        );
    }
}

/// A server drops what no correct server sends, and stays well: a success acknowledging
/// entries the leader does not have (it would index past its log), entries numbered out of
/// place, a term too large to increment, a request that would remove a committed entry.
#[test]
fn a_server_drops_messages_no_correct_server_sends() {
    use coordlab_impls::raft::{Config, Durable, Entry, Message, NodeId, Payload, RaftCore, Role};
    let ids: Vec<NodeId> = (0..3).map(NodeId).collect();
    let mut s: Vec<RaftCore> = ids
        .iter()
        .map(|&id| RaftCore::new(Config::new(id, ids.clone()), Durable::default()).unwrap())
        .collect();
    let settle = |s: &mut Vec<RaftCore>| loop {
        let mut sent = Vec::new();
        for c in s.iter_mut() {
            sent.extend(c.ready().messages);
        }
        if sent.is_empty() {
            return;
        }
        for m in sent {
            s[m.to.0 as usize].step(m.from, m.message);
        }
    };
    s[0].campaign_now();
    settle(&mut s);
    s[0].propose(b"x".to_vec()).unwrap();
    settle(&mut s);
    for _ in 0..3 {
        s[0].tick();
    }
    settle(&mut s);
    assert_eq!(s[0].role(), Role::Leader);
    assert_eq!(s[2].commit_index(), 2);
    let term = s[0].term();

    // A success for entries the leader lacks: dropped (no panic at the next heartbeat).
    s[0].step(
        NodeId(1),
        Message::AppendEntriesResponse {
            term,
            success: true,
            match_index: 50,
            last_log_index: 50,
            round: 0,
        },
    );
    s[0].step(
        NodeId(2),
        Message::AppendEntriesResponse {
            term,
            success: true,
            match_index: 1 << 63,
            last_log_index: 0,
            round: 0,
        },
    );
    for _ in 0..3 {
        s[0].tick();
    }
    settle(&mut s);
    assert_eq!(s[0].commit_index(), 2);
    assert_eq!(s[0].match_index(NodeId(1)), Some(2));

    // An entry numbered out of place: dropped, the log as it was.
    let log = s[2].log().to_vec();
    s[2].step(
        NodeId(0),
        Message::AppendEntriesRequest {
            term,
            prev_log_index: 2,
            prev_log_term: term,
            entries: vec![Entry {
                term,
                index: 1,
                payload: Payload::Noop,
            }],
            leader_commit: 3,
            round: 0,
        },
    );
    assert_eq!(s[2].log(), &log[..]);
    let _ = s[2].ready();

    // A request from a "leader" that would replace committed entries: dropped.
    s[2].step(
        NodeId(1),
        Message::AppendEntriesRequest {
            term: term + 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![Entry {
                term: term + 1,
                index: 1,
                payload: Payload::Noop,
            }],
            leader_commit: 0,
            round: 0,
        },
    );
    assert_eq!(s[2].log(), &log[..]);
    assert_eq!(s[2].ready().committed.len(), 0);

    // A term too large to increment: dropped; the term is the server's own.
    let before = s[1].term();
    s[1].step(
        NodeId(2),
        Message::RequestVoteRequest {
            term: u64::MAX,
            last_log_term: u64::MAX,
            last_log_index: 9,
        },
    );
    assert_eq!(s[1].term(), before);
}
