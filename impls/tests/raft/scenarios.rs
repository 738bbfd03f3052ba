//! The scenario families a Raft course tests, each a named test that states its claim, on
//! std threads with real 2 ms ticks. Each run's record is checked for Figure 3's five
//! properties as well (`harness::check_records`), whatever the scenario asserts.

use std::time::{Duration, Instant};

use coordlab_impls::raft::{
    Client, Cluster, ClusterConfig, Event, KvOp, KvOutput, MemStorage, NetFate, Role,
};
use coordlab_impls::sync::{Arc, thread};

use super::harness::{Record, Recorder, Scenario, check_records, render_records};

/// A cluster with its record.
struct Run {
    cluster: Cluster<MemStorage>,
    recorder: Recorder,
    next_client: u64,
}

fn config(servers: u32) -> ClusterConfig {
    Scenario::base(servers).cluster_config()
}

impl Run {
    fn start(servers: u32) -> Run {
        Run::start_with(
            config(servers),
            (0..servers).map(|_| MemStorage::new()).collect(),
        )
    }

    fn start_with(config: ClusterConfig, storages: Vec<MemStorage>) -> Run {
        let recorder = Recorder::default();
        let cluster = Cluster::start(config, storages, Arc::new(recorder.clone()));
        Run {
            cluster,
            recorder,
            next_client: 1,
        }
    }

    fn client(&mut self) -> Client<MemStorage> {
        self.next_client += 1;
        // 40 ms of patience, 10 s in all.
        self.cluster.client(self.next_client, 20, 5_000)
    }

    fn records(&self) -> Vec<Record> {
        self.recorder.records.lock().expect("recorder lock").clone()
    }

    /// The latest state of each server: (term, role, log length, commit).
    fn states(&self) -> Vec<Option<(u64, Role, usize, u64)>> {
        let mut out = vec![None; self.cluster.servers() as usize];
        for r in self.records() {
            if let Record::Step { node, state, .. } = r {
                out[node as usize] = Some((state.term, state.role, state.log.len(), state.commit));
            }
        }
        out
    }

    /// The up server leading in the highest term, once one does (panics after 10 s).
    fn leader(&self) -> u32 {
        self.wait("a leader", |run| run.current_leader())
    }

    fn current_leader(&self) -> Option<u32> {
        let states = self.states();
        (0..self.cluster.servers())
            .filter(|&n| self.cluster.is_up(n))
            .filter_map(|n| states[n as usize].map(|s| (n, s)))
            .filter(|(_, s)| s.1 == Role::Leader)
            .max_by_key(|(_, s)| s.0)
            .map(|(n, _)| n)
    }

    fn wait<T>(&self, what: &str, f: impl Fn(&Run) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(t) = f(self) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 10 s\n{}",
                render_records(&self.records())
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the cluster, checks the record, returns it.
    fn finish(mut self) -> Vec<Record> {
        self.cluster.stop();
        let records = self.records();
        let violations = check_records(&records);
        assert!(
            violations.is_empty(),
            "{violations:?}\n{}",
            render_records(&records)
        );
        records
    }
}

fn put(client: &mut Client<MemStorage>, key: &str, value: &str) {
    let out = client
        .call(KvOp::Put {
            key: key.into(),
            value: value.into(),
        })
        .unwrap_or_else(|e| panic!("put {key}={value}: {e}"));
    assert_eq!(out, KvOutput::Written);
}

fn get(client: &mut Client<MemStorage>, key: &str) -> Option<String> {
    match client.call(KvOp::Get { key: key.into() }) {
        Ok(KvOutput::Value { value }) => value,
        other => panic!("get {key}: {other:?}"),
    }
}

fn elections(records: &[Record]) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    for r in records {
        if let Record::Step { node, events, .. } = r {
            for e in events {
                if let Event::BecomeLeader { term } = e {
                    out.push((*term, *node));
                }
            }
        }
    }
    out
}

/// Three servers started together elect exactly one leader, and the others learn of it
/// (they hold its no-op). Reference: Raft §5.2.
#[test]
fn initial_election_elects_one_leader_that_the_others_follow() {
    let run = Run::start(3);
    let leader = run.leader();
    run.wait("every server holding the leader's no-op", |r| {
        r.states()
            .iter()
            .all(|s| s.is_some_and(|s| s.2 >= 1 && s.3 >= 1))
            .then_some(())
    });
    let records = run.finish();
    let won = elections(&records);
    assert!(won.iter().any(|&(_, n)| n == leader), "{won:?}");
}

/// When the leader crashes, the other two elect a new leader in a higher term, and writes
/// go on. Reference: Raft §5.2.
#[test]
fn re_election_after_the_leader_fails() {
    let mut run = Run::start(3);
    let mut client = run.client();
    put(&mut client, "x", "1");
    let old = run.leader();
    let old_term = run.states()[old as usize].unwrap().0;
    run.cluster.crash(old);
    let new = run.wait("a new leader", |r| {
        r.current_leader()
            .filter(|&n| n != old && r.states()[n as usize].is_some_and(|s| s.0 > old_term))
    });
    assert_ne!(new, old);
    put(&mut client, "x", "2");
    assert_eq!(get(&mut client, "x").as_deref(), Some("2"));
    run.finish();
}

/// With one of three servers down, the other two still commit; when it comes back it
/// catches up to the same log. Reference: Raft §5.3.
#[test]
fn agreement_despite_a_failed_follower() {
    let mut run = Run::start(3);
    let leader = run.leader();
    let follower = (leader + 1) % 3;
    run.cluster.crash(follower);
    let mut client = run.client();
    for i in 0..5 {
        put(&mut client, "k", &i.to_string());
    }
    assert_eq!(get(&mut client, "k").as_deref(), Some("4"));
    run.cluster.restart(follower);
    run.wait("the follower caught up", |r| {
        let s = r.states();
        let lead = s[leader as usize]?;
        let f = s[follower as usize]?;
        (f.2 == lead.2 && f.3 == lead.3).then_some(())
    });
    run.finish();
}

/// A leader cut off from the majority cannot commit: a write sent to it is not
/// acknowledged; the majority elects a new leader that commits; when the partition heals
/// the old leader steps down and its uncommitted entry is replaced. Reference: Raft §5.3,
/// §5.4.1.
#[test]
fn a_partitioned_leader_rejoins_as_a_follower_and_loses_its_uncommitted_entry() {
    let mut run = Run::start(3);
    let old = run.leader();
    let old_term = run.states()[old as usize].unwrap().0;
    run.cluster.isolate(&[old]);
    // A client that only ever asks the old leader: it accepts the write, cannot commit it.
    let mut stuck = run.cluster.client(100, 1_000, 100);
    stuck.ask_first(old);
    let stuck_write = thread::spawn(move || {
        stuck.call(KvOp::Put {
            key: "x".into(),
            value: "lost".into(),
        })
    });
    let new = run.wait("a leader on the majority side", |r| {
        r.current_leader()
            .filter(|&n| n != old && r.states()[n as usize].is_some_and(|s| s.0 > old_term))
    });
    let mut client = run.client();
    put(&mut client, "x", "kept");
    let outcome = stuck_write.join().unwrap();
    assert!(
        outcome.is_err(),
        "the isolated leader acknowledged a write: {outcome:?}"
    );
    run.cluster.heal();
    run.wait("the old leader following with the new leader's log", |r| {
        let s = r.states();
        let o = s[old as usize]?;
        let n = s[new as usize]?;
        (o.1 == Role::Follower && o.0 >= n.0 && o.2 == n.2 && o.3 == n.3).then_some(())
    });
    assert_eq!(get(&mut client, "x").as_deref(), Some("kept"));
    run.finish();
}

/// A follower 200 entries behind catches up in a few round trips, not 200: the leader
/// moves its nextIndex to the follower's last index on the first refusal (the hint in the
/// AppendEntries response), then sends full batches. Reference: Raft §5.3 (the
/// optimization at the end of the section).
#[test]
fn fast_catch_up_of_a_far_behind_follower() {
    let mut run = Run::start(3);
    let leader = run.leader();
    let follower = (leader + 1) % 3;
    run.cluster.crash(follower);
    let mut client = run.client();
    for i in 0..200 {
        put(&mut client, "k", &i.to_string());
    }
    let records_before = run.records().len();
    run.cluster.restart(follower);
    run.wait("the follower caught up", |r| {
        let s = r.states();
        let lead = s[leader as usize]?;
        let f = s[follower as usize]?;
        (f.2 == lead.2).then_some(())
    });
    let records = run.finish();
    let refusals = records[records_before..]
        .iter()
        .filter(|r| match r {
            Record::Step { node, events, .. } => {
                *node == follower
                    && events.iter().any(|e| {
                        matches!(e, Event::HandleAppendEntriesRequest { success: false, .. })
                    })
            }
            _ => false,
        })
        .count();
    let accepted_batches = records[records_before..]
        .iter()
        .filter(|r| match r {
            Record::Step { node, events, .. } => {
                *node == follower
                    && events.iter().any(|e| {
                        matches!(e, Event::HandleAppendEntriesRequest { success: true, match_index, .. } if *match_index > 0)
                    })
            }
            _ => false,
        })
        .count();
    assert!(
        refusals <= 3,
        "{refusals} refused AppendEntries before catching up"
    );
    assert!(
        accepted_batches <= 20,
        "{accepted_batches} accepted AppendEntries to catch up 200 entries (64 per message)"
    );
}

/// Every server restarts (the whole cluster stops, then starts again from the same
/// storage): every acknowledged write is still there. Reference: Raft Figure 2
/// (persistent state: currentTerm, votedFor, log[]).
#[test]
fn persistence_across_restarts_of_every_server() {
    let mut run = Run::start(3);
    let mut client = run.client();
    for i in 0..10 {
        put(&mut client, &format!("k{i}"), &format!("v{i}"));
    }
    drop(client);
    let storages = run.cluster.stop();
    run.finish();
    let mut again = Run::start_with(config(3), storages);
    let mut client = again.client();
    for i in 0..10 {
        assert_eq!(
            get(&mut client, &format!("k{i}")).as_deref(),
            Some(format!("v{i}").as_str())
        );
    }
    let records = again.finish();
    let restarts = records
        .iter()
        .filter(|r| {
            matches!(r, Record::Step { events, state, .. }
                if state.term > 0 && events.iter().any(|e| matches!(e, Event::Restart { .. })))
        })
        .count();
    assert_eq!(restarts, 3, "every server restarted from a non-empty store");
}

/// Five servers on a network that loses, duplicates, reorders and delays messages, with
/// servers crashing, rebooting and being cut off: the five properties hold and the client
/// history is linearizable. Reference: Raft §5, Figure 3.
#[test]
fn churn_on_an_unreliable_network() {
    let s = Scenario {
        ops_per_client: 6,
        clients: 3,
        keys: 2,
        faults: super::harness::FaultsSpec::UNRELIABLE,
        chaos_steps: 12,
        crash_per_mille: 300,
        reboot_per_mille: 300,
        partition_per_mille: 300,
        ..Scenario::base(5)
    };
    let report = super::harness::run(&s);
    assert!(
        report.violations.is_empty(),
        "{:?}\n{}",
        report.violations,
        render_records(&report.records)
    );
    assert!(report.answered > 0, "{:?}", report.history);
    let lost = report
        .records
        .iter()
        .filter(|r| {
            matches!(
                r,
                Record::Net {
                    fate: NetFate::Dropped,
                    ..
                }
            )
        })
        .count();
    assert!(
        lost > 0,
        "the network lost nothing: not the unreliable network"
    );
}

/// Figure 8's shape on an unreliable network: a nemesis cuts off whichever server leads,
/// leaders replicate one entry per message and append no no-op, so old-term entries sit on
/// a majority while another leader holds a different entry at the same index. The correct
/// commit rule keeps every property. (Under shuttle, the same workload with the
/// `figure8-commit` deviation violates `LeaderCompleteness`.) Reference: Raft §5.4.2,
/// Figure 8.
#[test]
fn figure8_on_an_unreliable_network() {
    let s = Scenario {
        noop_on_election: false,
        max_entries_per_message: 1,
        isolate_leader_per_mille: 800,
        faults: super::harness::FaultsSpec::UNRELIABLE,
        chaos_steps: 16,
        ops_per_client: 5,
        ..Scenario::base(3)
    };
    let report = super::harness::run(&s);
    assert!(
        report.violations.is_empty(),
        "{:?}\n{}",
        report.violations,
        render_records(&report.records)
    );
    let cuts = report
        .records
        .iter()
        .filter(|r| matches!(r, Record::Partition { .. }))
        .count();
    assert!(cuts > 0, "the nemesis cut no leader off");
    assert!(
        report.leaders.len() >= 2,
        "leadership never changed: {:?}",
        report.leaders
    );
}
