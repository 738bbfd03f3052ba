//! `coordlab conform` on run logs of the Raft core (`coordlab_impls::raft::RaftCore` in
//! raft.tla's profile), stepped without threads so a run is the same every time, committed
//! under `checks/tests/conform/` and regenerated here: a correct run (an election, two
//! entries replicated and committed, a follower restarting, a lost and a duplicated message)
//! conforms to `raft/correct` (exit 0); a run with the `forget-voted-for` deviation (a
//! server votes, restarts, and votes again in the same term) conforms to that variant and
//! diverges from `correct` at the second vote (exit 1); a malformed log is exit 2, one line.
//!
//! Regenerate the committed logs with `COORDLAB_BLESS=1 cargo test --release -p
//! coordlab-checks --test conform_raft`.

use coordlab_checks::conform::raft::{RunConfig, RunEvent};
use coordlab_checks::conform::{self, Verdict};
use coordlab_impls::raft::{
    Config, Deviation, Envelope, MemStorage, NetFate, NodeId, RaftCore, Storage,
};

#[path = "support/run.rs"]
mod run;
use run::root;

const SERVERS: u32 = 3;

/// Three cores, their stores, the messages in flight and the run's log.
struct Sim {
    cores: Vec<RaftCore>,
    configs: Vec<Config>,
    stores: Vec<MemStorage>,
    network: Vec<Envelope>,
    log: Vec<RunEvent>,
}

impl Sim {
    fn new(deviation: Option<Deviation>) -> Sim {
        let ids: Vec<NodeId> = (0..SERVERS).map(NodeId).collect();
        let configs: Vec<Config> = ids
            .iter()
            .map(|&id| {
                let mut c = Config::raft_tla(id, ids.clone());
                c.deviation = deviation;
                c
            })
            .collect();
        let mut sim = Sim {
            cores: configs
                .iter()
                .map(|c| RaftCore::new(c.clone(), Default::default()).unwrap())
                .collect(),
            configs,
            stores: (0..SERVERS).map(|_| MemStorage::new()).collect(),
            network: Vec::new(),
            log: Vec::new(),
        };
        for i in 0..SERVERS as usize {
            sim.ready(i);
        }
        sim
    }

    /// Persists, logs and sends what core `i` asks for.
    fn ready(&mut self, i: usize) {
        let ready = self.cores[i].ready();
        self.stores[i].persist(&ready.persist).unwrap();
        for event in ready.events {
            self.log.push(RunEvent::Core {
                server: i as u32,
                event,
            });
        }
        for m in ready.messages {
            self.log.push(RunEvent::Net {
                message: m.clone(),
                fate: NetFate::Delivered,
            });
            self.network.push(m);
        }
    }

    /// Delivers the first message in flight that `pick` chooses; false if none.
    fn deliver(&mut self, pick: impl Fn(&Envelope) -> bool) -> bool {
        let Some(k) = self.network.iter().position(pick) else {
            return false;
        };
        let m = self.network.remove(k);
        let to = m.to.0 as usize;
        self.cores[to].step(m.from, m.message);
        self.ready(to);
        true
    }

    fn deliver_all(&mut self) {
        while self.deliver(|_| true) {}
    }

    fn restart(&mut self, i: usize) {
        self.log.push(RunEvent::Crash { server: i as u32 });
        let durable = self.stores[i].load().unwrap();
        self.cores[i] = RaftCore::new(self.configs[i].clone(), durable).unwrap();
        self.ready(i);
    }

    fn heartbeat(&mut self, i: usize) {
        for _ in 0..self.configs[i].heartbeat_interval {
            self.cores[i].tick();
        }
        self.ready(i);
    }
}

/// s0 is elected, replicates and commits two entries; one AppendEntries is lost on the way
/// and one duplicated; s2 restarts in between and catches up.
fn correct_run() -> Vec<RunEvent> {
    let mut sim = Sim::new(None);
    sim.cores[0].campaign_now();
    sim.ready(0);
    sim.deliver_all();
    sim.cores[0].propose(vec![1]).unwrap();
    sim.ready(0);
    // The AppendEntries to s1 is lost; the one to s2 is duplicated.
    let lost = sim.network.iter().position(|m| m.to == NodeId(1)).unwrap();
    let m = sim.network.remove(lost);
    sim.log.push(RunEvent::Net {
        message: m,
        fate: NetFate::Dropped,
    });
    let dup = sim
        .network
        .iter()
        .find(|m| m.to == NodeId(2))
        .unwrap()
        .clone();
    sim.log.push(RunEvent::Net {
        message: dup.clone(),
        fate: NetFate::Duplicated,
    });
    sim.network.push(dup);
    sim.deliver_all();
    sim.heartbeat(0);
    sim.deliver_all();
    sim.restart(2);
    sim.cores[0].propose(vec![2]).unwrap();
    sim.ready(0);
    sim.deliver_all();
    sim.heartbeat(0);
    sim.deliver_all();
    sim.heartbeat(0);
    sim.deliver_all();
    assert!(sim.cores.iter().all(|c| c.commit_index() == 2));
    sim.log
}

/// s0 and s2 both stand in term 1; s1 votes for s0, restarts, and (forgetting its vote)
/// votes for s2 as well: two leaders of term 1.
fn forget_voted_for_run() -> Vec<RunEvent> {
    let mut sim = Sim::new(Some(Deviation::ForgetVotedFor));
    sim.cores[0].campaign_now();
    sim.ready(0);
    sim.cores[2].campaign_now();
    sim.ready(2);
    assert!(sim.deliver(|m| m.from == NodeId(0) && m.to == NodeId(1)));
    sim.restart(1);
    assert!(sim.deliver(|m| m.from == NodeId(2) && m.to == NodeId(1)));
    // The votes, and the first requests to the other candidate (each refuses the other's
    // term-1 leadership, with the bug, and they would go on forever).
    while sim.deliver(|m| {
        matches!(
            m.message,
            coordlab_impls::raft::Message::RequestVoteRequest { .. }
                | coordlab_impls::raft::Message::RequestVoteResponse { .. }
        )
    }) {}
    let leaders = sim
        .cores
        .iter()
        .filter(|c| c.role() == coordlab_impls::raft::Role::Leader)
        .count();
    assert_eq!(leaders, 2, "both candidates lead term 1");
    sim.log
}

fn committed(name: &str, variant: &str, events: &[RunEvent]) -> String {
    let json = conform::run_log_json("raft", &RunConfig { servers: SERVERS }, variant, events);
    let path = root().join("checks/tests/conform").join(name);
    if std::env::var_os("COORDLAB_BLESS").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        on_disk,
        json,
        "{} is not what the run produces now (COORDLAB_BLESS=1 regenerates it)",
        path.display()
    );
    path.display().to_string()
}

/// A correct run conforms to `raft/correct`: `coordlab conform` exits 0.
#[test]
fn a_correct_run_conforms() {
    let events = correct_run();
    let verdict = conform::conform::<conform::raft::RaftConformance>(
        &RunConfig { servers: SERVERS },
        "correct",
        &events,
    )
    .unwrap();
    assert!(matches!(verdict, Verdict::Conforms { .. }), "{verdict:?}");
    let path = committed("raft-correct.json", "correct", &events);
    let o = run::coordlab(&["conform", &path]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A second vote in one term after a restart conforms to `forget-voted-for` and leaves
/// `correct` at that vote: `coordlab conform` exits 0 and 1.
#[test]
fn a_second_vote_after_a_restart_is_caught_at_the_vote() {
    let events = forget_voted_for_run();
    let path = committed("raft-forget-voted-for.json", "forget-voted-for", &events);
    let own = run::coordlab(&["conform", &path]);
    assert_eq!(
        own.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&own.stdout)
    );
    let o = run::coordlab(&["conform", &path, "--variant", "correct"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("HandleRequestVoteRequest"), "{stdout}");
    assert!(stdout.contains("granted: true"), "{stdout}");
}

/// A run log that is not one: exit 2, one line naming the file.
#[test]
fn a_malformed_raft_log_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"protocol": "raft", "variant": "correct", "config": {"servers": 9}, "events": []}"#,
    )
    .unwrap();
    let o = run::coordlab(&["conform", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("bad.json") && stderr.contains("servers"),
        "{stderr}"
    );
}

/// An endless input is refused, not read into memory: exit 2, one line naming the file.
#[cfg(unix)]
#[test]
fn an_endless_input_is_exit_2() {
    for verb in ["conform", "drive"] {
        let o = run::coordlab(&[verb, "/dev/zero"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{verb}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("/dev/zero") && stderr.contains("larger than"),
            "{stderr}"
        );
    }
}
