//! One server's Raft as a pure state machine: inputs in ([`RaftCore::tick`],
//! [`RaftCore::step`], [`RaftCore::propose`], [`RaftCore::read_index`]), a [`Ready`] out.
//! No clock, thread, socket or disk inside, so the same core runs on threads, under loom and
//! shuttle, in replays of the model's traces and in benchmarks.
//!
//! The rules are Figure 2 of the Raft paper; section numbers below are the paper's.

use std::collections::BTreeSet;

use super::message::{Envelope, Event, Message, Role};
use super::types::{Durable, Entry, HardState, Index, NodeId, Payload, Persist, Term};

/// Terms from here on are refused (see [`RaftCore::step`]): 2^62.
const MAX_TERM: Term = 1 << 62;

/// A protocol bug the tests can switch on, mirroring the Raft model's bug variants (the same
/// ids). Compiled only for tests, under `--cfg loom` / `--cfg shuttle`, and with the
/// `deviations` feature, never in a default build.
#[cfg(any(test, loom, shuttle, feature = "deviations"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Deviation {
    /// `figure8-commit`: a leader commits the highest index a majority holds whatever that
    /// entry's term, without §5.4.2's "only entries of its own term are committed by
    /// counting replicas" (Figure 8).
    Figure8Commit,
    /// `no-up-to-date-check`: a server grants its vote without §5.4.1's check that the
    /// candidate's log is at least as up-to-date as its own.
    NoUpToDateCheck,
    /// `forget-voted-for`: a server restarts with no `votedFor` (it did not keep it durable),
    /// so it can vote twice in one term.
    ForgetVotedFor,
    /// `truncate-without-conflict`: a follower removes every entry after `prevLogIndex`
    /// before appending, even ones that do not conflict (Figure 2's receiver rule 3 says
    /// "if an existing entry conflicts"), so a delayed request erases entries.
    TruncateWithoutConflict,
}

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
impl Deviation {
    /// Every deviation, in the model's order.
    pub const ALL: [Deviation; 4] = [
        Deviation::Figure8Commit,
        Deviation::NoUpToDateCheck,
        Deviation::ForgetVotedFor,
        Deviation::TruncateWithoutConflict,
    ];

    /// The model's variant id.
    pub fn id(self) -> &'static str {
        match self {
            Deviation::Figure8Commit => "figure8-commit",
            Deviation::NoUpToDateCheck => "no-up-to-date-check",
            Deviation::ForgetVotedFor => "forget-voted-for",
            Deviation::TruncateWithoutConflict => "truncate-without-conflict",
        }
    }

    /// The deviation with the model's variant id `id`.
    pub fn from_id(id: &str) -> Option<Deviation> {
        Deviation::ALL.into_iter().find(|d| d.id() == id)
    }
}

/// A bad [`Config`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `servers` does not contain `id`, is empty, or names a server twice.
    #[error("servers must list every server once, this one ({id}) included")]
    Servers {
        /// This server.
        id: NodeId,
    },
    /// The election timeout range is empty, starts at 0, or does not exceed the heartbeat
    /// interval.
    #[error(
        "election timeout {min}..={max} ticks must be a non-empty range above the heartbeat interval of {heartbeat} ticks"
    )]
    Timing {
        /// The range's start, in ticks.
        min: u32,
        /// The range's end, in ticks.
        max: u32,
        /// The heartbeat interval, in ticks.
        heartbeat: u32,
    },
    /// `max_entries_per_message` is 0.
    #[error("max_entries_per_message must be at least 1")]
    Batch,
}

/// One server's configuration. Time is counted in ticks: the runtime calls
/// [`RaftCore::tick`] at a fixed interval it chooses (the std runtime: 10 ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This server.
    pub id: NodeId,
    /// Every server of the cluster, this one included. Fixed: no membership changes.
    pub servers: Vec<NodeId>,
    /// The smallest election timeout, in ticks. Each timeout is drawn anew from
    /// `election_timeout_min..=election_timeout_max` (§5.2's randomized timeouts).
    pub election_timeout_min: u32,
    /// The largest election timeout, in ticks.
    pub election_timeout_max: u32,
    /// A leader sends AppendEntries to every follower this often, in ticks (§5.2).
    pub heartbeat_interval: u32,
    /// The most entries one AppendEntries request carries. 1 is raft.tla's (and the model's)
    /// one entry per message.
    pub max_entries_per_message: usize,
    /// The most payload bytes one AppendEntries request carries (at least one entry goes,
    /// whatever its size): raft-rs's `max_size_per_msg`.
    pub max_bytes_per_message: usize,
    /// A new leader appends a no-op entry of its term (§8). Needed for read-index reads to
    /// be served early in a term; off, the leader waits for a client's entry to commit.
    pub noop_on_election: bool,
    /// A leader sends a follower that accepted once new entries as soon as it has them,
    /// moving `nextIndex` past what it sent without waiting for the answer (raft-rs's
    /// "replicate" state). Off: `nextIndex` moves only on answers, as in raft.tla.
    pub pipeline: bool,
    /// After a refusal, a leader moves `nextIndex` to just past the follower's last index
    /// (the hint the answer carries, §5.3's optimization) instead of one back.
    pub reject_hint: bool,
    /// Seeds the timeout draws (a xorshift generator inside the core): the same seed and
    /// inputs give the same outputs.
    pub seed: u64,
    /// Report [`Event`]s in each [`Ready`] (off: `events` stays empty, for throughput).
    pub record_events: bool,
    /// A protocol bug switched on (tests only).
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub deviation: Option<Deviation>,
}

impl Config {
    /// The defaults for server `id` of `servers`: election timeout 10..=20 ticks, heartbeat
    /// every 3 ticks, 64 entries and 1 MiB of payload per message, a no-op on election,
    /// events recorded.
    pub fn new(id: NodeId, servers: Vec<NodeId>) -> Config {
        Config {
            id,
            servers,
            election_timeout_min: 10,
            election_timeout_max: 20,
            heartbeat_interval: 3,
            max_entries_per_message: 64,
            max_bytes_per_message: 1 << 20,
            noop_on_election: true,
            pipeline: true,
            reject_hint: true,
            seed: 0x2545_F491_4F6C_DD1D,
            record_events: true,
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: None,
        }
    }

    /// raft.tla's server (and the Raft model's, `coordlab-models`): one entry per
    /// AppendEntries, no no-op on election, no pipelining, `nextIndex` one back after a
    /// refusal. The profile the model's traces are driven on and conformance runs use;
    /// slower to replicate than [`Config::new`]'s defaults, identical in safety.
    pub fn raft_tla(id: NodeId, servers: Vec<NodeId>) -> Config {
        Config {
            max_entries_per_message: 1,
            noop_on_election: false,
            pipeline: false,
            reject_hint: false,
            ..Config::new(id, servers)
        }
    }

    /// Checks the configuration (what [`RaftCore::new`] refuses).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let unique: BTreeSet<NodeId> = self.servers.iter().copied().collect();
        if unique.len() != self.servers.len() || !unique.contains(&self.id) {
            return Err(ConfigError::Servers { id: self.id });
        }
        if self.election_timeout_min == 0
            || self.election_timeout_min > self.election_timeout_max
            || self.election_timeout_min <= self.heartbeat_interval
            || self.heartbeat_interval == 0
        {
            return Err(ConfigError::Timing {
                min: self.election_timeout_min,
                max: self.election_timeout_max,
                heartbeat: self.heartbeat_interval,
            });
        }
        if self.max_entries_per_message == 0 {
            return Err(ConfigError::Batch);
        }
        Ok(())
    }

    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    fn has(&self, d: Deviation) -> bool {
        self.deviation == Some(d)
    }

    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    fn any_deviation(&self) -> bool {
        self.deviation.is_some()
    }

    #[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
    fn any_deviation(&self) -> bool {
        false
    }

    #[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
    fn has(&self, _: Deviation) -> bool {
        false
    }
}

/// Without the deviations compiled in, a type with the same names that is never switched on.
#[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deviation {
    Figure8Commit,
    NoUpToDateCheck,
    ForgetVotedFor,
    TruncateWithoutConflict,
}

/// Why a proposal or a read was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotLeader {
    /// This server is not the leader; `leader` is the one it last heard from in its term,
    /// if any.
    #[error("not the leader (leader: {})", leader.map_or("unknown".to_string(), |l| l.to_string()))]
    NotLeader {
        /// The leader this server knows of, if any.
        leader: Option<NodeId>,
    },
}

/// A read the leader confirmed (Ongaro's thesis §6.4, read-index): once the state machine
/// has applied `index`, a read of it reflects every write committed before the read was
/// asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's tag from [`RaftCore::read_index`].
    pub ctx: u64,
    /// The commit index when the read was asked for (at least one entry of the leader's term).
    pub index: Index,
}

/// What a core asks its runtime to do, in this order: make `persist` durable; then send
/// `messages`; then apply `committed` to the state machine; then serve `reads` once the
/// state machine has applied their index. (raft-rs's `Ready`, with the persist-before-send
/// rule Figure 2 needs: a vote or an acknowledgement must not leave before what it promises
/// is durable.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// The durable write.
    pub persist: Persist,
    /// Messages to send, in order.
    pub messages: Vec<Envelope>,
    /// Newly committed entries, in index order, each once per start of the core.
    pub committed: Vec<Entry>,
    /// Reads confirmed.
    pub reads: Vec<ReadState>,
    /// Reads refused because leadership was lost before they were confirmed (their `ctx`).
    pub dropped_reads: Vec<u64>,
    /// The steps taken, if [`Config::record_events`].
    pub events: Vec<Event>,
}

impl Ready {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
            && self.dropped_reads.is_empty()
            && self.events.is_empty()
    }
}

/// A leader's view of one follower (Figure 2's `nextIndex[]` and `matchIndex[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Progress {
    id: NodeId,
    next: Index,
    matched: Index,
    /// Until the follower accepts once, send one request per heartbeat and do not advance
    /// `next` optimistically (raft-rs's "probe" state).
    probing: bool,
    /// The highest read round it answered in this term.
    round: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRead {
    ctx: u64,
    /// `None` until an entry of the leader's term commits.
    index: Option<Index>,
    round: u64,
}

/// One server's Raft: Figure 2's state and rules.
#[derive(Clone, Debug)]
pub struct RaftCore {
    config: Config,
    // Persistent (Figure 2), mirrored in memory.
    term: Term,
    voted_for: Option<NodeId>,
    log: Vec<Entry>,
    // Volatile.
    role: Role,
    leader: Option<NodeId>,
    commit: Index,
    /// The highest index reported in `Ready::committed`.
    handed_out: Index,
    votes: BTreeSet<NodeId>,
    progress: Vec<Progress>,
    election_elapsed: u32,
    timeout: u32,
    heartbeat_elapsed: u32,
    rng: u64,
    read_round: u64,
    reads: Vec<PendingRead>,
    /// The log length the followers were last sent (a leader sends new entries at `ready`).
    sent_up_to: Index,
    out: Ready,
}

impl RaftCore {
    /// A server starting from `durable` (empty for a new cluster), as a follower with
    /// `commitIndex` 0. A restart after a crash is the same call with what the server's
    /// [`Storage`](super::Storage) loads; the first event is [`Event::Restart`].
    pub fn new(config: Config, durable: Durable) -> Result<RaftCore, ConfigError> {
        config.validate()?;
        let mut rng = config.seed ^ u64::from(config.id.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if rng == 0 {
            rng = 1;
        }
        let voted_for = if config.has(Deviation::ForgetVotedFor) {
            None
        } else {
            durable.hard_state.voted_for
        };
        let mut core = RaftCore {
            term: durable.hard_state.term,
            voted_for,
            log: durable.log,
            role: Role::Follower,
            leader: None,
            commit: 0,
            handed_out: 0,
            votes: BTreeSet::new(),
            progress: Vec::new(),
            election_elapsed: 0,
            timeout: 0,
            heartbeat_elapsed: 0,
            rng,
            read_round: 0,
            reads: Vec::new(),
            sent_up_to: 0,
            out: Ready::default(),
            config,
        };
        core.reset_timeout();
        core.event(Event::Restart { term: core.term });
        Ok(core)
    }

    // ---- Observers ----

    /// This server.
    pub fn id(&self) -> NodeId {
        self.config.id
    }
    /// `currentTerm`.
    pub fn term(&self) -> Term {
        self.term
    }
    /// `votedFor`.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The leader of the current term this server knows of (itself if it leads).
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// The log (entry `i` has index `i + 1`).
    pub fn log(&self) -> &[Entry] {
        &self.log
    }
    /// `commitIndex`.
    pub fn commit_index(&self) -> Index {
        self.commit
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The index of the last entry (0: empty).
    pub fn last_index(&self) -> Index {
        self.log.len() as Index
    }
    /// A leader's `matchIndex` for `server` (its own last index for itself); `None` if this
    /// server does not lead or `server` is unknown.
    pub fn match_index(&self, server: NodeId) -> Option<Index> {
        if self.role != Role::Leader {
            return None;
        }
        if server == self.config.id {
            return Some(self.last_index());
        }
        self.progress
            .iter()
            .find(|p| p.id == server)
            .map(|p| p.matched)
    }

    /// A leader's `nextIndex` and `matchIndex` for another server; `None` if this server
    /// does not lead or `server` is itself or unknown.
    pub fn progress(&self, server: NodeId) -> Option<(Index, Index)> {
        if self.role != Role::Leader {
            return None;
        }
        self.progress
            .iter()
            .find(|p| p.id == server)
            .map(|p| (p.next, p.matched))
    }

    /// Whether this server, a candidate, has been granted `server`'s vote in its term
    /// (its own included).
    pub fn has_vote_from(&self, server: NodeId) -> bool {
        self.role == Role::Candidate && self.votes.contains(&server)
    }

    /// The term of the entry at `index` (0 for index 0 or past the end).
    pub fn term_at(&self, index: Index) -> Term {
        if index == 0 {
            return 0;
        }
        self.log.get(index as usize - 1).map_or(0, |e| e.term)
    }

    // ---- Inputs ----

    /// One tick of time passed: a follower or candidate may time out (§5.2), a leader may
    /// send heartbeats.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => {
                self.heartbeat_elapsed += 1;
                if self.heartbeat_elapsed >= self.config.heartbeat_interval {
                    self.heartbeat_elapsed = 0;
                    self.broadcast_append(true);
                }
            }
            Role::Follower | Role::Candidate => {
                self.election_elapsed += 1;
                if self.election_elapsed >= self.timeout {
                    self.campaign();
                }
            }
        }
    }

    /// A leader sends `to` an AppendEntries request now: the entries from its `nextIndex`
    /// for `to` (at most [`Config::max_entries_per_message`]), or a heartbeat. Returns
    /// whether it did (it leads and `to` is another server of the cluster).
    pub fn replicate(&mut self, to: NodeId) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        match self.progress.iter().position(|p| p.id == to) {
            Some(i) => {
                self.send_append(i);
                true
            }
            None => false,
        }
    }

    /// Starts an election now, as if the election timer fired (a follower or candidate
    /// only; a leader ignores it). Returns whether it did.
    pub fn campaign_now(&mut self) -> bool {
        if self.role == Role::Leader {
            return false;
        }
        self.campaign();
        true
    }

    /// A client's command: a leader appends it to its log (§5.3) and returns its index and
    /// term; the command is committed once [`Ready::committed`] reports an entry at that
    /// index with that term (another term there means it was lost with its leader).
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(Index, Term), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader::NotLeader {
                leader: self.leader,
            });
        }
        let index = self.append_own(Payload::Data(data), false);
        Ok((index, self.term))
    }

    /// A linearizable read (read-index, Ongaro's thesis §6.4): the leader notes its commit
    /// index, confirms with a round of heartbeats that a majority still follows it, and then
    /// reports a [`ReadState`] with `ctx`. Refused by a server that does not lead; dropped
    /// (reported in [`Ready::dropped_reads`]) if it stops leading first.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader::NotLeader {
                leader: self.leader,
            });
        }
        self.read_round += 1;
        let index = self.own_term_committed().then_some(self.commit);
        self.reads.push(PendingRead {
            ctx,
            index,
            round: self.read_round,
        });
        if self.progress.is_empty() {
            self.confirm_reads();
        } else {
            self.broadcast_append(true);
        }
        Ok(())
    }

    /// A message from `from`.
    ///
    /// A message no correct server sends is dropped without effect: from an unknown server
    /// or this one, with a term of 2^62 or more (no cluster elects that often; a larger term
    /// could not be incremented safely), entries numbered other than `prevLogIndex + 1`,
    /// `+ 2`, … or of a later term than the request, a success acknowledging entries the
    /// leader does not have, or a request that would remove a committed entry. (Raft
    /// assumes no such peer; dropping them keeps a server alive whatever reaches its port.)
    pub fn step(&mut self, from: NodeId, message: Message) {
        if from == self.config.id
            || !self.config.servers.contains(&from)
            || !self.plausible(&message)
        {
            return;
        }
        if message.term() > self.term {
            // Figure 2, all servers: a higher term makes this server a follower of it.
            self.become_follower(message.term(), None);
            self.event(Event::UpdateTerm { term: self.term });
        }
        match message {
            Message::RequestVoteRequest {
                term,
                last_log_term,
                last_log_index,
            } => self.handle_vote_request(from, term, last_log_term, last_log_index),
            Message::RequestVoteResponse { term, vote_granted } => {
                self.handle_vote_response(from, term, vote_granted)
            }
            Message::AppendEntriesRequest {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
            } => self.handle_append_request(
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
            ),
            Message::AppendEntriesResponse {
                term,
                success,
                match_index,
                last_log_index,
                round,
            } => {
                self.handle_append_response(from, term, success, match_index, last_log_index, round)
            }
        }
    }

    /// Whether `message` could come from a correct server (see [`RaftCore::step`]).
    fn plausible(&self, message: &Message) -> bool {
        if message.term() >= MAX_TERM {
            return false;
        }
        match message {
            Message::AppendEntriesRequest {
                term,
                prev_log_index,
                entries,
                ..
            } => entries.iter().enumerate().all(|(k, e)| {
                prev_log_index
                    .checked_add(k as Index + 1)
                    .is_some_and(|i| e.index == i)
                    && e.term <= *term
            }),
            Message::AppendEntriesResponse {
                term,
                success: true,
                match_index,
                ..
            } if *term == self.term && self.role == Role::Leader => {
                *match_index <= self.last_index()
            }
            _ => true,
        }
    }

    /// What to do now (see [`Ready`] for the order); the core forgets it.
    pub fn ready(&mut self) -> Ready {
        if self.role == Role::Leader && self.sent_up_to < self.last_index() {
            self.broadcast_append(false);
        }
        // (Only the `truncate-without-conflict` bug makes a log shorter than its commit index.)
        let to_hand = self.commit.min(self.last_index());
        if self.handed_out < to_hand {
            let from = self.handed_out as usize;
            let to = to_hand as usize;
            self.out.committed.extend_from_slice(&self.log[from..to]);
            self.handed_out = to_hand;
        }
        std::mem::take(&mut self.out)
    }

    // ---- Elections (§5.2) ----

    fn reset_timeout(&mut self) {
        self.election_elapsed = 0;
        // xorshift64 (Marsaglia 2003).
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let span =
            u64::from(self.config.election_timeout_max - self.config.election_timeout_min) + 1;
        self.timeout = self.config.election_timeout_min + (self.rng % span) as u32;
    }

    fn campaign(&mut self) {
        if self.term + 1 >= MAX_TERM {
            return;
        }
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.voted_for = Some(self.config.id);
        self.votes.clear();
        self.votes.insert(self.config.id);
        self.drop_reads();
        self.progress.clear();
        self.reset_timeout();
        self.save_hard_state();
        self.event(Event::Timeout { term: self.term });
        if self.has_majority(self.votes.len()) {
            self.become_leader();
            return;
        }
        let last_log_index = self.last_index();
        let last_log_term = self.term_at(last_log_index);
        for i in 0..self.config.servers.len() {
            let to = self.config.servers[i];
            if to == self.config.id {
                continue;
            }
            self.event(Event::RequestVote {
                to,
                term: self.term,
            });
            self.send(
                to,
                Message::RequestVoteRequest {
                    term: self.term,
                    last_log_term,
                    last_log_index,
                },
            );
        }
    }

    fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: Term,
        last_log_term: Term,
        last_log_index: Index,
    ) {
        let my_last = self.last_index();
        let my_last_term = self.term_at(my_last);
        // §5.4.1: the candidate's log is at least as up-to-date as this one.
        let up_to_date = last_log_term > my_last_term
            || (last_log_term == my_last_term && last_log_index >= my_last);
        let up_to_date = up_to_date || self.config.has(Deviation::NoUpToDateCheck);
        let granted = term == self.term && up_to_date && self.voted_for.is_none_or(|v| v == from);
        if granted {
            if self.voted_for != Some(from) {
                self.voted_for = Some(from);
                self.save_hard_state();
            }
            // Figure 2: granting a vote resets the election timer.
            self.reset_timeout();
        }
        self.event(Event::HandleRequestVoteRequest {
            from,
            term,
            granted,
        });
        self.send(
            from,
            Message::RequestVoteResponse {
                term: self.term,
                vote_granted: granted,
            },
        );
    }

    fn handle_vote_response(&mut self, from: NodeId, term: Term, granted: bool) {
        self.event(Event::HandleRequestVoteResponse {
            from,
            term,
            granted,
        });
        if term != self.term || self.role != Role::Candidate || !granted {
            return;
        }
        self.votes.insert(from);
        if self.has_majority(self.votes.len()) {
            self.become_leader();
        }
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.save_hard_state();
        }
        if self.role != Role::Follower {
            self.drop_reads();
            self.progress.clear();
            self.role = Role::Follower;
        }
        self.leader = leader;
        self.reset_timeout();
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.config.id);
        self.heartbeat_elapsed = 0;
        let next = self.last_index() + 1;
        self.progress = self
            .config
            .servers
            .iter()
            .filter(|&&s| s != self.config.id)
            .map(|&id| Progress {
                id,
                next,
                matched: 0,
                probing: true,
                round: 0,
            })
            .collect();
        self.event(Event::BecomeLeader { term: self.term });
        self.sent_up_to = self.last_index();
        if self.config.noop_on_election {
            self.append_own(Payload::Noop, true);
        }
        self.broadcast_append(true);
    }

    fn has_majority(&self, n: usize) -> bool {
        2 * n > self.config.servers.len()
    }

    // ---- Log replication (§5.3) ----

    fn append_own(&mut self, payload: Payload, noop: bool) -> Index {
        let index = self.last_index() + 1;
        let entry = Entry {
            term: self.term,
            index,
            payload,
        };
        self.event(Event::ClientRequest {
            index,
            term: self.term,
            noop,
        });
        self.merge_persist(std::slice::from_ref(&entry));
        self.log.push(entry);
        // A single server's own entry is committed by its own vote.
        self.advance_commit();
        index
    }

    /// Sends every follower what it lacks; `heartbeat`: also those that lack nothing (and
    /// the probing ones), and starts a new read round if reads wait.
    fn broadcast_append(&mut self, heartbeat: bool) {
        self.sent_up_to = self.last_index();
        for i in 0..self.progress.len() {
            let p = &self.progress[i];
            let behind = p.next <= self.last_index();
            if heartbeat || (behind && !p.probing) {
                self.send_append(i);
            }
        }
    }

    fn send_append(&mut self, i: usize) {
        let last = self.last_index();
        let p = &self.progress[i];
        let to = p.id;
        let prev_log_index = p.next - 1;
        let prev_log_term = self.term_at(prev_log_index);
        let mut end = last.min(prev_log_index + self.config.max_entries_per_message as Index);
        let mut bytes = 0;
        for (k, e) in self.log[prev_log_index as usize..end as usize]
            .iter()
            .enumerate()
        {
            bytes += match &e.payload {
                Payload::Noop => 0,
                Payload::Data(d) => d.len(),
            };
            if k > 0 && bytes > self.config.max_bytes_per_message {
                end = prev_log_index + k as Index;
                break;
            }
        }
        let entries = self.log[prev_log_index as usize..end as usize].to_vec();
        let n = entries.len() as Index;
        if self.config.pipeline && !p.probing && n > 0 {
            self.progress[i].next = end + 1;
        }
        self.event(Event::AppendEntries {
            to,
            term: self.term,
            prev_log_index,
            prev_log_term,
            entries: n,
            leader_commit: self.commit,
        });
        self.send(
            to,
            Message::AppendEntriesRequest {
                term: self.term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit: self.commit,
                round: self.read_round,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_append_request(
        &mut self,
        from: NodeId,
        term: Term,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        round: u64,
    ) {
        let count = entries.len() as u64;
        let refuse = |core: &mut RaftCore| {
            core.event(Event::HandleAppendEntriesRequest {
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries: count,
                leader_commit,
                success: false,
                match_index: 0,
                truncated_from: None,
                commit: core.commit,
            });
            core.send(
                from,
                Message::AppendEntriesResponse {
                    term: core.term,
                    success: false,
                    match_index: 0,
                    last_log_index: core.last_index(),
                    round,
                },
            );
        };
        if term < self.term || self.role == Role::Leader {
            // A stale leader; or (only with a protocol bug) a second leader of this term.
            refuse(self);
            return;
        }
        // A current leader: this server follows it (a candidate steps down, §5.2).
        self.become_follower(term, Some(from));
        if prev_log_index > self.last_index() || self.term_at(prev_log_index) != prev_log_term {
            refuse(self);
            return;
        }
        // Receiver rules 3 and 4: remove a conflicting suffix, append what is new.
        let mut truncated_from = None;
        let mut first_new = None;
        for (k, entry) in entries.iter().enumerate() {
            let index = prev_log_index + 1 + k as Index;
            if index <= self.last_index() {
                if self.term_at(index) == entry.term {
                    continue;
                }
                if index <= self.commit && !self.config.any_deviation() {
                    // A committed entry never conflicts with a current leader's (Log
                    // Matching and Leader Completeness): not a correct leader's request.
                    // (With a protocol bug switched on it can, and the bug must show.)
                    return;
                }
                self.log.truncate(index as usize - 1);
                truncated_from = Some(index);
            }
            first_new = Some(k);
            break;
        }
        if self.config.has(Deviation::TruncateWithoutConflict)
            && self.last_index() > prev_log_index + entries.len() as Index
        {
            let cut = prev_log_index + entries.len() as Index + 1;
            self.log.truncate(cut as usize - 1);
            truncated_from = Some(truncated_from.map_or(cut, |t: Index| t.min(cut)));
            // Make the cut durable: the pending write ends before it; if nothing is pending,
            // rewrite the last kept entry, after which the store truncates. (A cut of the
            // whole log cannot be written as a `Persist`; it stays in memory only.)
            let pending = &mut self.out.persist.entries;
            pending.retain(|e| e.index < cut);
            if pending.is_empty()
                && first_new.is_none()
                && let Some(last) = self.log.last().cloned()
            {
                pending.push(last);
            }
        }
        if let Some(k) = first_new {
            let new = &entries[k..];
            self.merge_persist(new);
            self.log.extend_from_slice(new);
        }
        let match_index = prev_log_index + entries.len() as Index;
        // Receiver rule 5; the commit index never goes down.
        let commit = leader_commit.min(match_index);
        if commit > self.commit {
            self.commit = commit;
        }
        self.event(Event::HandleAppendEntriesRequest {
            from,
            term,
            prev_log_index,
            prev_log_term,
            entries: count,
            leader_commit,
            success: true,
            match_index,
            truncated_from,
            commit: self.commit,
        });
        self.send(
            from,
            Message::AppendEntriesResponse {
                term: self.term,
                success: true,
                match_index,
                last_log_index: self.last_index(),
                round,
            },
        );
    }

    /// Adds `new` (the log's new tail) to the pending durable write, keeping it one
    /// contiguous run that starts where the log first changed.
    fn merge_persist(&mut self, new: &[Entry]) {
        let Some(first) = new.first() else {
            return;
        };
        let pending = &mut self.out.persist.entries;
        if let Some(p) = pending.first() {
            if first.index >= p.index {
                pending.truncate((first.index - p.index) as usize);
            } else {
                pending.clear();
            }
        }
        pending.extend_from_slice(new);
    }

    fn handle_append_response(
        &mut self,
        from: NodeId,
        term: Term,
        success: bool,
        match_index: Index,
        last_log_index: Index,
        round: u64,
    ) {
        self.event(Event::HandleAppendEntriesResponse {
            from,
            term,
            success,
            match_index,
        });
        if term != self.term || self.role != Role::Leader {
            return;
        }
        let Some(i) = self.progress.iter().position(|p| p.id == from) else {
            return;
        };
        let last = self.last_index();
        let (pipeline, reject_hint) = (self.config.pipeline, self.config.reject_hint);
        let p = &mut self.progress[i];
        p.round = p.round.max(round);
        if success {
            // A stale success never lowers matchIndex.
            if match_index > p.matched {
                p.matched = match_index;
            }
            p.next = if pipeline {
                p.next.max(p.matched + 1)
            } else {
                // raft.tla: nextIndex is the answer's matchIndex plus one.
                match_index + 1
            };
            p.probing = false;
            let more = p.next <= last;
            self.advance_commit();
            if more {
                // Entries sent optimistically are still in flight only up to `next - 1`;
                // what is beyond was not sent yet (more than one message's worth).
                self.send_append(i);
            }
        } else if reject_hint {
            if p.next > p.matched + 1 {
                // §5.3: decrement nextIndex and retry; the hint skips what the follower
                // lacks.
                p.next = (p.next - 1).min(last_log_index + 1).max(p.matched + 1);
                p.probing = true;
                self.send_append(i);
            }
        } else {
            // raft.tla: one back, at least 1.
            p.next = p.next.saturating_sub(1).max(1);
            p.probing = true;
            self.send_append(i);
        }
        self.confirm_reads();
    }

    /// §5.3 and §5.4.2: the leader's `commitIndex` moves to the highest index a majority
    /// holds, if that entry is of the leader's term.
    fn advance_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched: Vec<Index> = self.progress.iter().map(|p| p.matched).collect();
        matched.push(self.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let majority_index = matched[self.config.servers.len() / 2].min(self.last_index());
        if majority_index <= self.commit {
            return;
        }
        let index = if self.config.has(Deviation::Figure8Commit) {
            majority_index
        } else {
            // Only an entry of the current term is committed by counting replicas; the
            // highest such at or below the majority's index.
            let mut n = majority_index;
            while n > self.commit && self.term_at(n) != self.term {
                n -= 1;
            }
            n
        };
        if index > self.commit {
            self.commit = index;
            self.event(Event::AdvanceCommitIndex { commit: index });
            self.confirm_reads();
        }
    }

    // ---- Read-index reads (thesis §6.4) ----

    fn own_term_committed(&self) -> bool {
        self.commit > 0 && self.term_at(self.commit) == self.term
    }

    fn confirm_reads(&mut self) {
        if self.reads.is_empty() || self.role != Role::Leader {
            return;
        }
        if self.own_term_committed() {
            let commit = self.commit;
            for r in &mut self.reads {
                if r.index.is_none() {
                    r.index = Some(commit);
                }
            }
        }
        // The highest round a majority (this leader included) has answered.
        let mut rounds: Vec<u64> = self.progress.iter().map(|p| p.round).collect();
        rounds.push(self.read_round);
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = rounds[self.config.servers.len() / 2];
        let mut k = 0;
        while k < self.reads.len() {
            let r = &self.reads[k];
            if let (Some(index), true) = (r.index, r.round <= confirmed) {
                self.out.reads.push(ReadState { ctx: r.ctx, index });
                self.reads.remove(k);
            } else {
                k += 1;
            }
        }
    }

    fn drop_reads(&mut self) {
        self.out
            .dropped_reads
            .extend(self.reads.drain(..).map(|r| r.ctx));
    }

    // ---- Output ----

    fn save_hard_state(&mut self) {
        self.out.persist.hard_state = Some(HardState {
            term: self.term,
            voted_for: self.voted_for,
        });
    }

    fn send(&mut self, to: NodeId, message: Message) {
        self.out.messages.push(Envelope {
            from: self.config.id,
            to,
            message,
        });
    }

    fn event(&mut self, event: Event) {
        if self.config.record_events {
            self.out.events.push(event);
        }
    }
}
