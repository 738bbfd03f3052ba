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
