//! The Raft harness: one workload, written once, that runs a cluster of the real
//! implementation (`coordlab_impls::raft::Cluster`) on std threads or under shuttle, with
//! clients, crashes, restarts, partitions and a faulty network; records every server step
//! (the core's events and the server's state after the step), every network fate and every
//! client operation with its invocation and response; and checks the record:
//!
//! - the five properties of Figure 3 of the Raft paper, on the implementation's own states,
//!   as the Raft model states them (`ElectionSafety`, `LeaderAppendOnly`, `LogMatching`,
//!   `LeaderCompleteness`, `StateMachineSafety`);
//! - the clients' history is linearizable for a key-value register per key (stateright's
//!   `LinearizabilityTester`; linearizability is local, Herlihy & Wing 1990, so keys are
//!   checked one at a time).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use coordlab_impls::raft::{
    Client, ClientError, Cluster, ClusterConfig, Config, Entry, Envelope, Event, Faults, KvOp,
    KvOutput, KvView, MemStorage, NetFate, NodeId, Observer, Payload, Role, Ticker,
};
use coordlab_impls::sync::{Arc, Mutex, thread};
use serde::{Deserialize, Serialize};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

use super::dice::Dice;

/// The model's property names.
pub mod property {
    pub const ELECTION_SAFETY: &str = "ElectionSafety";
    pub const LEADER_APPEND_ONLY: &str = "LeaderAppendOnly";
    pub const LOG_MATCHING: &str = "LogMatching";
    pub const LEADER_COMPLETENESS: &str = "LeaderCompleteness";
    pub const STATE_MACHINE_SAFETY: &str = "StateMachineSafety";
    pub const LINEARIZABLE: &str = "Linearizable";
}

/// A test-only protocol bug: the model's variant id.
pub use coordlab_impls::raft::Deviation;

/// A workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub servers: u32,
    pub clients: u32,
    pub ops_per_client: u32,
    /// Keys the clients use (`k0`, `k1`, …).
    pub keys: u32,
    pub faults: FaultsSpec,
    /// Chaos steps (crash, restart, partition, heal), each after a pause.
    pub chaos_steps: u32,
    /// Per chaos step: chance in thousandths that it crashes a server (else it restarts
    /// one, or cuts or heals links).
    pub crash_per_mille: u32,
    /// Per chaos step: chance that it crashes a server and restarts it at once.
    pub reboot_per_mille: u32,
    pub partition_per_mille: u32,
    /// Most yields (shuttle) or ticks (std) between chaos steps.
    pub chaos_pause: u32,
    /// Per chaos step: chance that it cuts the current leader (the up server of the
    /// highest term that leads) off from the others, a nemesis aimed at leaders (Jepsen's
    /// "partition the primary"), after healing the previous cut.
    pub isolate_leader_per_mille: u32,
    /// Raft timing, in ticks.
    pub election_timeout: (u32, u32),
    pub heartbeat: u32,
    pub max_entries_per_message: usize,
    pub noop_on_election: bool,
    /// raft.tla's profile (`Config::raft_tla`): one entry per message, no no-op, no
    /// pipelining, `nextIndex` one back after a refusal; overrides the two fields above.
    pub raft_tla: bool,
    /// Client patience and budget, in ticks.
    pub patience: u32,
    pub budget: u32,
    /// std threads: milliseconds per tick.
    pub tick_ms: u64,
    pub deviation: Option<Deviation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    pub drop: u32,
    pub duplicate: u32,
    pub reorder: u32,
    pub delay: u32,
    pub max_delay_ticks: u32,
}

impl FaultsSpec {
    pub const NONE: FaultsSpec = FaultsSpec {
        drop: 0,
        duplicate: 0,
        reorder: 0,
        delay: 0,
        max_delay_ticks: 0,
    };
    pub const UNRELIABLE: FaultsSpec = FaultsSpec {
        drop: 50,
        duplicate: 50,
        reorder: 100,
        delay: 50,
        max_delay_ticks: 3,
    };
}

impl Scenario {
    pub fn base(servers: u32) -> Scenario {
        Scenario {
            servers,
            clients: 2,
            ops_per_client: 3,
            keys: 1,
            faults: FaultsSpec::NONE,
            chaos_steps: 0,
            crash_per_mille: 0,
            reboot_per_mille: 0,
            partition_per_mille: 0,
            chaos_pause: 30,
            isolate_leader_per_mille: 0,
            election_timeout: (10, 20),
            heartbeat: 3,
            max_entries_per_message: 64,
            noop_on_election: true,
            raft_tla: false,
            patience: 30,
            budget: 400,
            tick_ms: 2,
            deviation: None,
        }
    }

    pub fn cluster_config(&self) -> ClusterConfig {
        let mut raft = if self.raft_tla {
            Config::raft_tla(NodeId(0), Vec::new())
        } else {
            Config::new(NodeId(0), Vec::new())
        };
        raft.election_timeout_min = self.election_timeout.0;
        raft.election_timeout_max = self.election_timeout.1;
        raft.heartbeat_interval = self.heartbeat;
        if !self.raft_tla {
            raft.max_entries_per_message = self.max_entries_per_message;
            raft.noop_on_election = self.noop_on_election;
        }
        raft.deviation = self.deviation;
        ClusterConfig {
            servers: self.servers,
            raft,
            faults: Faults {
                drop_per_mille: self.faults.drop,
                duplicate_per_mille: self.faults.duplicate,
                reorder_per_mille: self.faults.reorder,
                delay_per_mille: self.faults.delay,
                max_delay_ticks: self.faults.max_delay_ticks,
            },
            seed: 0x5EED,
            ticker: if cfg!(any(shuttle, loom)) {
                Ticker::Logical
            } else {
                Ticker::Real { ms: self.tick_ms }
            },
        }
    }
}

/// One entry as the checks compare it: its term and a digest of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryId {
    pub term: u64,
    /// FNV-1a of the payload (0 for a no-op).
    pub digest: u64,
}

pub fn entry_id(e: &Entry) -> EntryId {
    let digest = match &e.payload {
        Payload::Noop => 0,
        Payload::Data(bytes) => {
            // FNV-1a, 64 bit.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h
        }
    };
    EntryId {
        term: e.term,
        digest,
    }
}

/// A server's state after a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub term: u64,
    pub role: Role,
    pub voted_for: Option<u32>,
    pub commit: u64,
    pub log: Vec<EntryId>,
}

/// One line of the run's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Record {
    /// Server `node` took a step.
    Step {
        node: u32,
        events: Vec<Event>,
        state: Snapshot,
        /// (index, entry) applied to its state machine in this step.
        applied: Vec<(u64, EntryId)>,
    },
    /// The network's fate for a message.
    Net {
        envelope: Envelope,
        fate: NetFate,
    },
    Crash {
        node: u32,
    },
    Restart {
        node: u32,
    },
    Partition {
        isolated: Vec<u32>,
    },
    /// A one-way partition: `mute`'s messages to every other server are lost, while it
    /// still hears them.
    Mute {
        mute: u32,
    },
    Heal,
}

/// The run's log, shared by the observer (server threads) and the chaos thread.
#[derive(Clone, Default)]
pub struct Recorder {
    pub records: Arc<Mutex<Vec<Record>>>,
}

impl Recorder {
    pub fn push(&self, r: Record) {
        self.records.lock().expect("recorder lock").push(r);
    }
}

impl Observer for Recorder {
    fn step(&self, node: NodeId, kv: &KvView<'_>, events: &[Event], applied: &[Entry]) {
        let c = kv.core;
        self.push(Record::Step {
            node: node.0,
            events: events.to_vec(),
            state: Snapshot {
                term: c.term(),
                role: c.role(),
                voted_for: c.voted_for().map(|v| v.0),
                commit: c.commit_index(),
                log: c.log().iter().map(entry_id).collect(),
            },
            applied: applied.iter().map(|e| (e.index, entry_id(e))).collect(),
        });
    }

    fn network(&self, envelope: &Envelope, fate: &NetFate) {
        self.push(Record::Net {
            envelope: envelope.clone(),
            fate: fate.clone(),
        });
    }
}

/// A client operation as the history records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HistoryEvent {
    Invoke {
        client: u64,
        op: KvOp,
    },
    /// `None`: the client gave up (the operation may or may not take effect).
    Return {
        client: u64,
        output: Option<KvOutput>,
    },
}

/// A property violated, at record `step` (1-based; 0: the client history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub property: String,
    pub step: usize,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.step == 0 {
            write!(f, "{} violated: {}", self.property, self.detail)
        } else {
            write!(
                f,
                "{} violated at record {}: {}",
                self.property, self.step, self.detail
            )
        }
    }
}

/// A run's outcome. (The shuttle tests judge a run by its violations only; the std tests
/// also read the counts.)
#[derive(Clone, Debug)]
#[cfg_attr(shuttle, allow(dead_code))]
pub struct Report {
    pub records: Vec<Record>,
    pub history: Vec<HistoryEvent>,
    pub violations: Vec<Violation>,
    /// Operations answered / given up.
    pub answered: usize,
    pub timed_out: usize,
    /// Terms in which a leader was elected.
    pub leaders: BTreeMap<u64, u32>,
    /// The highest index applied anywhere.
    pub applied: u64,
}

/// Runs `scenario` once: on std threads with real ticks, or under shuttle with logical time
/// (call it inside a shuttle test).
pub fn run(scenario: &Scenario) -> Report {
    let recorder = Recorder::default();
    let history: Arc<Mutex<Vec<HistoryEvent>>> = Arc::new(Mutex::new(Vec::new()));
    let storages = (0..scenario.servers).map(|_| MemStorage::new()).collect();
    let cluster = Cluster::start(
        scenario.cluster_config(),
        storages,
        Arc::new(recorder.clone()),
    );
    let cluster = Arc::new(Mutex::new(cluster));
    let mut clients = Vec::new();
    for c in 0..scenario.clients {
        let client = cluster.lock().expect("cluster lock").client(
            u64::from(c) + 1,
            scenario.patience,
            scenario.budget,
        );
        let history = Arc::clone(&history);
        let s = scenario.clone();
        clients.push(thread::spawn(move || client_loop(client, &s, c, &history)));
    }
    let chaos = {
        let cluster = Arc::clone(&cluster);
        let recorder = recorder.clone();
        let s = scenario.clone();
        thread::spawn(move || chaos_loop(&cluster, &recorder, &s))
    };
    let mut answered = 0;
    let mut timed_out = 0;
    for c in clients {
        let (a, t) = c.join().expect("client thread");
        answered += a;
        timed_out += t;
    }
    chaos.join().expect("chaos thread");
    let _storages = cluster.lock().expect("cluster lock").stop();
    let records = recorder.records.lock().expect("recorder lock").clone();
    let history = history.lock().expect("history lock").clone();
    let mut violations = check_records(&records);
    violations.extend(check_history(&history));
    let mut leaders = BTreeMap::new();
    let mut applied = 0;
    for r in &records {
        if let Record::Step {
            node,
            events,
            applied: a,
            ..
        } = r
        {
            for e in events {
                if let Event::BecomeLeader { term } = e {
                    leaders.entry(*term).or_insert(*node);
                }
            }
            if let Some((i, _)) = a.last() {
                applied = applied.max(*i);
            }
        }
    }
    Report {
        records,
        history,
        violations,
        answered,
        timed_out,
        leaders,
        applied,
    }
}

fn client_loop(
    mut client: Client<MemStorage>,
    s: &Scenario,
    c: u32,
    history: &Mutex<Vec<HistoryEvent>>,
) -> (usize, usize) {
    let mut dice = Dice::for_thread(100 + c);
    let (mut answered, mut timed_out) = (0, 0);
    for n in 0..s.ops_per_client {
        let key = format!("k{}", dice.roll() % s.keys.max(1));
        let value = format!("c{}-{}", client.id(), n);
        let op = match dice.roll() % 3 {
            0 => KvOp::Get { key },
            1 => KvOp::Put { key, value },
            _ => KvOp::Cas {
                key,
                expected: None,
                new: value,
            },
        };
        history
            .lock()
            .expect("history lock")
            .push(HistoryEvent::Invoke {
                client: client.id(),
                op: op.clone(),
            });
        let result = client.call(op);
        let output = match result {
            Ok(o) => {
                answered += 1;
                Some(o)
            }
            Err(ClientError::Timeout { .. }) => {
                timed_out += 1;
                None
            }
            Err(ClientError::Refused(e)) => panic!("client {} refused: {e}", client.id()),
        };
        let gave_up = output.is_none();
        history
            .lock()
            .expect("history lock")
            .push(HistoryEvent::Return {
                client: client.id(),
                output,
            });
        if gave_up {
            // Its operation stays pending forever: the session may not invoke another.
            break;
        }
    }
    (answered, timed_out)
}

fn pause(s: &Scenario, dice: &mut Dice) {
    let n = dice.roll() % s.chaos_pause.max(1);
    if cfg!(any(shuttle, loom)) {
        for _ in 0..n {
            thread::yield_now();
        }
    } else {
        #[cfg(not(any(shuttle, loom)))]
        thread::sleep(std::time::Duration::from_millis(s.tick_ms * u64::from(n)));
    }
}

fn chaos_loop(cluster: &Mutex<Cluster<MemStorage>>, recorder: &Recorder, s: &Scenario) {
    let mut dice = Dice::for_thread(7);
    for _ in 0..s.chaos_steps {
        pause(s, &mut dice);
        let mut c = cluster.lock().expect("cluster lock");
        let node = dice.roll() % s.servers;
        let down: Vec<u32> = (0..s.servers).filter(|&n| !c.is_up(n)).collect();
        // Keep a majority up: a crash only when fewer than a minority are down.
        let may_crash = (down.len() as u32 + 1) * 2 < s.servers;
        if dice.chance(s.isolate_leader_per_mille) {
            if let Some(leader) = current_leader(recorder, &c) {
                c.heal();
                c.isolate(&[leader]);
                recorder.push(Record::Partition {
                    isolated: vec![leader],
                });
            }
        } else if dice.chance(s.reboot_per_mille) {
            if c.is_up(node) {
                c.crash(node);
                recorder.push(Record::Crash { node });
            }
            c.restart(node);
            recorder.push(Record::Restart { node });
        } else if may_crash && dice.chance(s.crash_per_mille) {
            if c.is_up(node) {
                c.crash(node);
                recorder.push(Record::Crash { node });
            }
        } else if dice.chance(s.partition_per_mille) {
            c.heal();
            if dice.roll().is_multiple_of(2) {
                let isolated = vec![node];
                c.isolate(&isolated);
                recorder.push(Record::Partition { isolated });
            } else {
                // One way: the server hears the others, they do not hear it.
                for other in (0..s.servers).filter(|&o| o != node) {
                    c.cut(node, other);
                }
                recorder.push(Record::Mute { mute: node });
            }
        } else if let Some(&n) = down.first() {
            c.restart(n);
            recorder.push(Record::Restart { node: n });
        } else {
            c.heal();
            recorder.push(Record::Heal);
        }
    }
    let mut c = cluster.lock().expect("cluster lock");
    c.heal();
    recorder.push(Record::Heal);
    for n in 0..s.servers {
        if !c.is_up(n) {
            c.restart(n);
            recorder.push(Record::Restart { node: n });
        }
    }
}

/// The up server that leads in the highest term, by the record so far.
fn current_leader(recorder: &Recorder, c: &Cluster<MemStorage>) -> Option<u32> {
    let records = recorder.records.lock().expect("recorder lock");
    let mut latest: BTreeMap<u32, (u64, Role)> = BTreeMap::new();
    for r in records.iter() {
        if let Record::Step { node, state, .. } = r {
            latest.insert(*node, (state.term, state.role));
        }
    }
    latest
        .iter()
        .filter(|(n, (_, role))| *role == Role::Leader && c.is_up(**n))
        .max_by_key(|(_, (term, _))| *term)
        .map(|(n, _)| *n)
}

// ---- The checks ----

fn is_prefix(a: &[EntryId], b: &[EntryId]) -> bool {
    a.len() <= b.len() && a == &b[..a.len()]
}

/// Checks the five properties over the record, step by step.
pub fn check_records(records: &[Record]) -> Vec<Violation> {
    let mut out: Vec<Violation> = Vec::new();
    let mut report = |property: &str, step: usize, detail: String| {
        if !out.iter().any(|v| v.property == property) {
            out.push(Violation {
                property: property.to_owned(),
                step,
                detail,
            });
        }
    };
    let mut latest: BTreeMap<u32, Snapshot> = BTreeMap::new();
    let mut elected: BTreeMap<u64, u32> = BTreeMap::new();
    // index → (entry, the term of the leader that committed it)
    let mut committed: BTreeMap<u64, (EntryId, u64)> = BTreeMap::new();
    let mut applied: BTreeMap<u64, (EntryId, u32)> = BTreeMap::new();
    for (k, r) in records.iter().enumerate() {
        let step = k + 1;
        let Record::Step {
            node,
            events,
            state,
            applied: newly,
        } = r
        else {
            continue;
        };
        let node = *node;
        // ElectionSafety: at most one leader per term.
        for e in events {
            if let Event::BecomeLeader { term } = e {
                match elected.get(term) {
                    Some(&other) if other != node => report(
                        property::ELECTION_SAFETY,
                        step,
                        format!("s{node} and s{other} were both elected leader of term {term}"),
                    ),
                    _ => {
                        elected.insert(*term, node);
                    }
                }
            }
        }
        // LeaderAppendOnly: a leader never overwrites or deletes its entries in its term.
        if let Some(before) = latest.get(&node)
            && before.role == Role::Leader
            && state.role == Role::Leader
            && before.term == state.term
            && !is_prefix(&before.log, &state.log)
        {
            {
                report(
                    property::LEADER_APPEND_ONLY,
                    step,
                    format!(
                        "leader s{node} of term {} went from a log of {} entries to one that does not extend it ({} entries)",
                        state.term,
                        before.log.len(),
                        state.log.len()
                    ),
                );
            }
        }
        // Commitment by a leader: the entries up to its new commit index, in its term.
        if state.role == Role::Leader {
            for e in events {
                if let Event::AdvanceCommitIndex { commit } = e {
                    for i in 1..=*commit {
                        let id = state.log[i as usize - 1];
                        committed.entry(i).or_insert((id, state.term));
                    }
                }
            }
        }
        latest.insert(node, state.clone());
        // LogMatching: same index and term → identical up to there, for every pair.
        for (&other, o) in &latest {
            if other == node {
                continue;
            }
            let n = state.log.len().min(o.log.len());
            if let Some(i) = (0..n).rev().find(|&i| state.log[i].term == o.log[i].term)
                && state.log[..=i] != o.log[..=i]
            {
                {
                    report(
                        property::LOG_MATCHING,
                        step,
                        format!(
                            "s{node} and s{other} both hold an entry of term {} at index {} but their logs differ at or before it",
                            state.log[i].term,
                            i + 1
                        ),
                    );
                }
            }
        }
        // LeaderCompleteness: every leader holds every entry committed in an earlier term.
        for (&l, s) in &latest {
            if s.role != Role::Leader {
                continue;
            }
            for (&i, &(id, term)) in &committed {
                if term < s.term && s.log.get(i as usize - 1) != Some(&id) {
                    report(
                        property::LEADER_COMPLETENESS,
                        step,
                        format!(
                            "the entry at index {i} (term {}) was committed in term {term}, but s{l}, leader of term {}, does not hold it",
                            id.term, s.term
                        ),
                    );
                }
            }
        }
        // StateMachineSafety: no two servers apply different entries at one index.
        for (i, id) in newly {
            match applied.get(i) {
                Some(&(other_id, other)) if other_id != *id => report(
                    property::STATE_MACHINE_SAFETY,
                    step,
                    format!(
                        "s{node} applied the entry of term {} at index {i}, where s{other} applied one of term {}",
                        id.term, other_id.term
                    ),
                ),
                Some(_) => {}
                None => {
                    applied.insert(*i, (*id, node));
                }
            }
        }
    }
    out
}

/// A register: what one key holds.
#[derive(Clone, Debug, Default)]
struct Register(Option<String>);

impl SequentialSpec for Register {
    type Op = KvOp;
    type Ret = KvOutput;
    fn invoke(&mut self, op: &KvOp) -> KvOutput {
        match op {
            KvOp::Put { value, .. } => {
                self.0 = Some(value.clone());
                KvOutput::Written
            }
            KvOp::Get { .. } => KvOutput::Value {
                value: self.0.clone(),
            },
            KvOp::Cas { expected, new, .. } => {
                let previous = self.0.clone();
                let swapped = previous == *expected;
                if swapped {
                    self.0 = Some(new.clone());
                }
                KvOutput::Cas { swapped, previous }
            }
        }
    }
}

/// Checks the history is linearizable, key by key.
pub fn check_history(history: &[HistoryEvent]) -> Vec<Violation> {
    let mut testers: BTreeMap<String, LinearizabilityTester<u64, Register>> = BTreeMap::new();
    let mut in_flight: BTreeMap<u64, String> = BTreeMap::new();
    for h in history {
        let result = match h {
            HistoryEvent::Invoke { client, op } => {
                in_flight.insert(*client, op.key().to_owned());
                testers
                    .entry(op.key().to_owned())
                    .or_insert_with(|| LinearizabilityTester::new(Register::default()))
                    .on_invoke(*client, op.clone())
                    .map(|_| ())
            }
            HistoryEvent::Return {
                client,
                output: Some(output),
            } => {
                let key = in_flight
                    .remove(client)
                    .expect("a return follows its invoke");
                testers
                    .get_mut(&key)
                    .expect("the key's tester")
                    .on_return(*client, output.clone())
                    .map(|_| ())
            }
            HistoryEvent::Return { output: None, .. } => Ok(()),
        };
        if let Err(e) = result {
            return vec![Violation {
                property: property::LINEARIZABLE.to_owned(),
                step: 0,
                detail: format!("malformed history: {e}"),
            }];
        }
    }
    let mut out = Vec::new();
    for (key, tester) in &testers {
        if !tester.is_consistent() {
            out.push(Violation {
                property: property::LINEARIZABLE.to_owned(),
                step: 0,
                detail: format!("the operations on key {key} have no linearization"),
            });
        }
    }
    out
}

/// The run's log for a person: one line per record.
pub fn render_records(records: &[Record]) -> String {
    let mut out = String::new();
    for (k, r) in records.iter().enumerate() {
        let _ = write!(out, "{:>4}. ", k + 1);
        match r {
            Record::Step {
                node,
                events,
                state,
                applied,
            } => {
                let what: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
                let _ = write!(
                    out,
                    "s{node} [{} t{} commit {} log {}] {}",
                    state.role,
                    state.term,
                    state.commit,
                    state
                        .log
                        .iter()
                        .map(|e| e.term.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    what.join("; ")
                );
                if !applied.is_empty() {
                    let _ = write!(
                        out,
                        " applied {:?}",
                        applied.iter().map(|a| a.0).collect::<Vec<_>>()
                    );
                }
            }
            Record::Net { envelope: e, fate } => {
                let _ = write!(
                    out,
                    "net {}→{} {}(t{}): {fate:?}",
                    e.from,
                    e.to,
                    e.message.kind(),
                    e.message.term()
                );
            }
            Record::Crash { node } => {
                let _ = write!(out, "crash s{node}");
            }
            Record::Restart { node } => {
                let _ = write!(out, "restart s{node}");
            }
            Record::Partition { isolated } => {
                let _ = write!(out, "partition {isolated:?} off");
            }
            Record::Mute { mute } => {
                let _ = write!(out, "s{mute}'s messages to the others are lost (one way)");
            }
            Record::Heal => {
                let _ = write!(out, "heal");
            }
        }
        out.push('\n');
    }
    out
}

/// The record as the Raft conformance mapping reads it (`coordlab_checks::conform::raft`):
/// each core event, each network fate, each crash.
#[cfg(not(loom))]
pub fn run_events(records: &[Record]) -> Vec<coordlab_checks::conform::raft::RunEvent> {
    use coordlab_checks::conform::raft::RunEvent;
    let mut out = Vec::new();
    for r in records {
        match r {
            Record::Step { node, events, .. } => {
                out.extend(events.iter().map(|e| RunEvent::Core {
                    server: *node,
                    event: e.clone(),
                }))
            }
            Record::Net { envelope, fate } => out.push(RunEvent::Net {
                message: envelope.clone(),
                fate: fate.clone(),
            }),
            Record::Crash { node } => out.push(RunEvent::Crash { server: *node }),
            Record::Restart { .. }
            | Record::Partition { .. }
            | Record::Mute { .. }
            | Record::Heal => {}
        }
    }
    out
}
