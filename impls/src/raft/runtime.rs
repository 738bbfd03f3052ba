//! A Raft cluster in one process: one thread per server, mailboxes for channels, a network
//! that injects faults (loss, duplication, reordering, delay, partitions — one-way ones
//! too), crashes and restarts from storage, and clients that find the leader and retry.
//! Built on the sync facade, so the same cluster runs on std threads, under shuttle and
//! under loom.
//!
//! Time is ticks. A ticker thread hands every running server and client a tick — every
//! [`Ticker::Real`] interval on std threads, or as fast as the schedule lets it under a
//! checker ([`Ticker::Logical`]); a thread holds at most one undelivered tick, so a slow
//! thread misses ticks rather than piling them up.

use std::collections::{BTreeSet, VecDeque};

use super::core::Config;
use super::kv::{KvError, KvNode, KvOp, KvOutput, KvReply, KvRequest, KvStateMachine};
use super::message::{Envelope, Event};
use super::storage::Storage;
use super::types::{Entry, NodeId};
use crate::sync::{Arc, Condvar, Mutex, thread};

/// How the ticker keeps time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticker {
    /// One tick every this many milliseconds of real time (std threads only).
    Real {
        /// Milliseconds per tick.
        ms: u64,
    },
    /// A tick whenever the ticker thread runs and the receiver has none pending: under
    /// loom and shuttle, the schedule decides how time passes against everything else.
    Logical,
}

/// Network faults, each a chance in thousandths per message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Faults {
    /// The message is lost.
    pub drop_per_mille: u32,
    /// The message is delivered twice.
    pub duplicate_per_mille: u32,
    /// The message overtakes the messages already waiting at its receiver.
    pub reorder_per_mille: u32,
    /// The message is held back for 1 to `max_delay_ticks` ticks.
    pub delay_per_mille: u32,
    /// The longest delay, in ticks.
    pub max_delay_ticks: u32,
}

/// What the network did with one message, reported to the [`Observer`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum NetFate {
    /// Put in the receiver's mailbox.
    Delivered,
    /// Lost.
    Dropped,
    /// Put in the mailbox twice.
    Duplicated,
    /// Put in the mailbox ahead of what was waiting there.
    Reordered,
    /// Held back this many ticks.
    Delayed(u32),
    /// Cut by a partition.
    Partitioned,
    /// The receiver is down.
    ReceiverDown,
    /// Waiting in the receiver's mailbox when the receiver crashed.
    Lost,
}

/// Sees every step of every server, from the server's own thread, right after the step and
/// before its messages are sent (so a receive is always seen after its send).
pub trait Observer: Send + Sync + 'static {
    /// Server `node` took a step: its core and state machine now, the core's events and the
    /// entries it applied.
    fn step(&self, node: NodeId, kv: &KvView<'_>, events: &[Event], applied: &[Entry]);
    /// The network decided a message's fate.
    fn network(&self, envelope: &Envelope, fate: &NetFate) {
        let _ = (envelope, fate);
    }
    /// Server `node` crashed (its thread stopped; its storage stays).
    fn crash(&self, node: NodeId) {
        let _ = node;
    }
}

/// A server's state, for an [`Observer`].
pub struct KvView<'a> {
    /// The Raft core.
    pub core: &'a super::core::RaftCore,
    /// The state machine.
    pub state_machine: &'a KvStateMachine,
}

/// An observer that sees nothing.
pub struct NoObserver;

impl Observer for NoObserver {
    fn step(&self, _: NodeId, _: &KvView<'_>, _: &[Event], _: &[Entry]) {}
}

/// A cluster's settings.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Number of servers (ids `s0`, `s1`, …).
    pub servers: u32,
    /// The Raft configuration of every server (its `id` and `servers` are replaced).
    pub raft: Config,
    /// Faults the network injects.
    pub faults: Faults,
    /// Seeds the network's fault draws (xorshift64 inside the network's lock: the same
    /// schedule of sends gives the same faults).
    pub seed: u64,
    /// How time passes.
    pub ticker: Ticker,
}

impl ClusterConfig {
    /// `servers` servers with `Config::new`'s Raft defaults, no faults, real 10 ms ticks.
    pub fn new(servers: u32) -> ClusterConfig {
        ClusterConfig {
            servers,
            raft: Config::new(NodeId(0), Vec::new()),
            faults: Faults::default(),
            seed: 0x5EED,
            ticker: Ticker::Real { ms: 10 },
        }
    }
}

enum NodeInput {
    Tick,
    Message(Envelope),
    Request(Ticket, KvRequest),
    Campaign,
    Stop,
}

enum ClientInput {
    Tick,
    Reply(Ticket, KvReply),
}

/// Whom to answer: a client and its attempt number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    client: usize,
    seq: u64,
    attempt: u64,
}

/// A mailbox: an unbounded queue many threads push to and one thread receives from,
/// blocking while it is empty (a `Mutex` and a `Condvar` of the sync facade). What the
/// runtime's servers and clients read their inputs from.
pub struct Mailbox<T> {
    queue: Mutex<VecDeque<T>>,
    ready: Condvar,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox::new()
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Mailbox<T> {
        Mailbox {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
        }
    }

    /// Puts `item` at the back, or at the `front` (a message overtaking the others; a
    /// stop that must come first), and wakes the receiver.
    pub fn push(&self, item: T, front: bool) {
        let mut q = self.queue.lock().expect("mailbox lock");
        if front {
            q.push_front(item);
        } else {
            q.push_back(item);
        }
        drop(q);
        // After the unlock: the receiver re-checks the queue under the lock, so a wakeup
        // between the unlock and its wait is not lost (it has not released the lock to
        // wait before this push took it, or it sees the item).
        self.ready.notify_one();
    }

    /// Puts `item` at the back unless an item for which `present` holds is waiting (a
    /// tick is not queued twice: a slow receiver misses ticks rather than piling them up).
    /// Returns whether it did.
    pub fn push_unless(&self, item: T, present: impl Fn(&T) -> bool) -> bool {
        let mut q = self.queue.lock().expect("mailbox lock");
        if q.iter().any(present) {
            return false;
        }
        q.push_back(item);
        drop(q);
        self.ready.notify_one();
        true
    }

    /// The first item, waiting for one if there is none.
    pub fn recv(&self) -> T {
        let mut q = self.queue.lock().expect("mailbox lock");
        loop {
            if let Some(item) = q.pop_front() {
                return item;
            }
            q = self.ready.wait(q).expect("mailbox lock");
        }
    }

    /// Takes every waiting item (a crashed server's mailbox is emptied so).
    pub fn drain(&self) -> Vec<T> {
        self.queue.lock().expect("mailbox lock").drain(..).collect()
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.queue.lock().expect("mailbox lock").len()
    }

    /// Whether no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct NetState {
    rng: u64,
    /// Links cut: (from, to).
    blocked: BTreeSet<(u32, u32)>,
    /// Messages held back: (ticks left, message).
    delayed: Vec<(u32, Envelope)>,
    up: Vec<bool>,
}

impl NetState {
    fn roll(&mut self) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) as u32
    }
    fn chance(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.roll() < per_mille
    }
}

struct Shared<S: Storage> {
    config: ClusterConfig,
    nodes: Vec<Mailbox<NodeInput>>,
    clients: Mutex<Vec<Arc<Mailbox<ClientInput>>>>,
    net: Mutex<NetState>,
    storages: Vec<Mutex<Option<S>>>,
    observer: Arc<dyn Observer>,
    stopped: Mutex<bool>,
}

impl<S: Storage> Shared<S> {
    fn send(&self, envelope: Envelope) {
        let to = envelope.to.0 as usize;
        let faults = self.config.faults;
        let mut net = self.net.lock().expect("network lock");
        let fate = if !net.up[to] {
            NetFate::ReceiverDown
        } else if net.blocked.contains(&(envelope.from.0, envelope.to.0)) {
            NetFate::Partitioned
        } else if net.chance(faults.drop_per_mille) {
            NetFate::Dropped
        } else if net.chance(faults.delay_per_mille) && faults.max_delay_ticks > 0 {
            NetFate::Delayed(1 + net.roll() % faults.max_delay_ticks)
        } else if net.chance(faults.duplicate_per_mille) {
            NetFate::Duplicated
        } else if net.chance(faults.reorder_per_mille) {
            NetFate::Reordered
        } else {
            NetFate::Delivered
        };
        self.observer.network(&envelope, &fate);
        match fate {
            NetFate::Delivered => self.nodes[to].push(NodeInput::Message(envelope), false),
            NetFate::Reordered => self.nodes[to].push(NodeInput::Message(envelope), true),
            NetFate::Duplicated => {
                self.nodes[to].push(NodeInput::Message(envelope.clone()), false);
                self.nodes[to].push(NodeInput::Message(envelope), false);
            }
            NetFate::Delayed(ticks) => net.delayed.push((ticks, envelope)),
            NetFate::Dropped | NetFate::Partitioned | NetFate::ReceiverDown | NetFate::Lost => {}
        }
    }

    /// One tick of the network: delayed messages whose time has come are delivered (unless a
    /// partition or a crash took their receiver meanwhile).
    fn tick_network(&self) {
        let mut net = self.net.lock().expect("network lock");
        let mut due = Vec::new();
        net.delayed.retain_mut(|(left, envelope)| {
            *left -= 1;
            if *left == 0 {
                due.push(envelope.clone());
                false
            } else {
                true
            }
        });
        for envelope in due {
            let to = envelope.to.0 as usize;
            if !net.up[to] {
                self.observer.network(&envelope, &NetFate::ReceiverDown);
            } else if net.blocked.contains(&(envelope.from.0, envelope.to.0)) {
                self.observer.network(&envelope, &NetFate::Partitioned);
            } else {
                self.nodes[to].push(NodeInput::Message(envelope), false);
            }
        }
    }

    fn reply(&self, ticket: Ticket, reply: KvReply) {
        let client = self.clients.lock().expect("clients lock")[ticket.client].clone();
        client.push(ClientInput::Reply(ticket, reply), false);
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.lock().expect("stop lock")
    }
}

/// A cluster of servers in one process. Dropping it stops every thread.
pub struct Cluster<S: Storage + Send + 'static> {
    shared: Arc<Shared<S>>,
    threads: Vec<Option<thread::JoinHandle<()>>>,
    ticker: Option<thread::JoinHandle<()>>,
}

fn node_config(config: &ClusterConfig, id: u32) -> Config {
    let mut c = config.raft.clone();
    c.id = NodeId(id);
    c.servers = (0..config.servers).map(NodeId).collect();
    c
}

fn run_node<S: Storage + Send + 'static>(shared: Arc<Shared<S>>, id: u32) {
    let storage = shared.storages[id as usize]
        .lock()
        .expect("storage lock")
        .take()
        .expect("a stopped server's storage is back in its slot");
    let config = node_config(&shared.config, id);
    let mut node: KvNode<S, Ticket> = match KvNode::new(config, storage) {
        Ok(node) => node,
        Err(e) => panic!("server s{id} cannot start: {e}"),
    };
    // The restart's own step (its `Restart` event).
    let mut outputs = node.flush();
    loop {
        let outs = match outputs {
            Ok(o) => o,
            Err(e) => panic!("server s{id} stops: {e}"),
        };
        shared.observer.step(
            NodeId(id),
            &KvView {
                core: node.core(),
                state_machine: node.state_machine(),
            },
            &outs.events,
            &outs.applied,
        );
        for m in outs.messages {
            shared.send(m);
        }
        for (ticket, reply) in outs.replies {
            shared.reply(ticket, reply);
        }
        outputs = match shared.nodes[id as usize].recv() {
            NodeInput::Stop => break,
            NodeInput::Tick => node.tick(),
            NodeInput::Campaign => node.campaign_now(),
            NodeInput::Message(envelope) => node.step(envelope),
            NodeInput::Request(ticket, request) => node.request(ticket, request),
        };
    }
    *shared.storages[id as usize].lock().expect("storage lock") = Some(node.into_storage());
}

fn run_ticker<S: Storage + Send + 'static>(shared: Arc<Shared<S>>) {
    loop {
        if shared.is_stopped() {
            return;
        }
        match shared.config.ticker {
            #[cfg(not(any(loom, shuttle)))]
            Ticker::Real { ms } => thread::sleep(std::time::Duration::from_millis(ms)),
            #[cfg(any(loom, shuttle))]
            Ticker::Real { .. } => panic!("Ticker::Real needs std threads"),
            Ticker::Logical => thread::yield_now(),
        }
        shared.tick_network();
        let up: Vec<bool> = shared.net.lock().expect("network lock").up.clone();
        for (i, mailbox) in shared.nodes.iter().enumerate() {
            if up[i] {
                mailbox.push_unless(NodeInput::Tick, |x| matches!(x, NodeInput::Tick));
            }
        }
        let clients = shared.clients.lock().expect("clients lock").clone();
        for c in clients {
            c.push_unless(ClientInput::Tick, |x| matches!(x, ClientInput::Tick));
        }
    }
}

impl<S: Storage + Send + 'static> Cluster<S> {
    /// Starts `config.servers` servers, server `i` on `storages[i]` (empty stores for a new
    /// cluster), and the ticker.
    ///
    /// Panics if `storages` has another length, or if the Raft configuration is invalid.
    pub fn start(
        config: ClusterConfig,
        storages: Vec<S>,
        observer: Arc<dyn Observer>,
    ) -> Cluster<S> {
        assert_eq!(
            storages.len(),
            config.servers as usize,
            "one store per server"
        );
        node_config(&config, 0)
            .validate()
            .expect("a valid Raft configuration");
        let n = config.servers as usize;
        let seed = config.seed.max(1);
        let shared = Arc::new(Shared {
            nodes: (0..n).map(|_| Mailbox::new()).collect(),
            clients: Mutex::new(Vec::new()),
            net: Mutex::new(NetState {
                rng: seed,
                blocked: BTreeSet::new(),
                delayed: Vec::new(),
                up: vec![true; n],
            }),
            storages: storages.into_iter().map(|s| Mutex::new(Some(s))).collect(),
            observer,
            stopped: Mutex::new(false),
            config,
        });
        let threads = (0..n as u32)
            .map(|id| {
                let shared = Arc::clone(&shared);
                Some(thread::spawn(move || run_node(shared, id)))
            })
            .collect();
        let ticker = {
            let shared = Arc::clone(&shared);
            Some(thread::spawn(move || run_ticker(shared)))
        };
        Cluster {
            shared,
            threads,
            ticker,
        }
    }

    /// The number of servers.
    pub fn servers(&self) -> u32 {
        self.shared.config.servers
    }

    /// Crashes server `node`: it stops after its current step (which includes that step's
    /// durable write, but messages it had not sent yet may be lost with it); messages to it
    /// are lost until [`restart`](Cluster::restart). Does nothing if it is down already.
    pub fn crash(&mut self, node: u32) {
        let i = node as usize;
        let Some(handle) = self.threads[i].take() else {
            return;
        };
        self.shared.net.lock().expect("network lock").up[i] = false;
        self.shared.nodes[i].push(NodeInput::Stop, true);
        handle.join().expect("a server thread panicked");
        self.shared.observer.crash(NodeId(node));
        for lost in self.shared.nodes[i].drain() {
            if let NodeInput::Message(envelope) = lost {
                self.shared.observer.network(&envelope, &NetFate::Lost);
            }
        }
    }

    /// Restarts a crashed server from its storage. Does nothing if it is up.
    pub fn restart(&mut self, node: u32) {
        let i = node as usize;
        if self.threads[i].is_some() {
            return;
        }
        self.shared.net.lock().expect("network lock").up[i] = true;
        let shared = Arc::clone(&self.shared);
        self.threads[i] = Some(thread::spawn(move || run_node(shared, node)));
    }

    /// Whether server `node` is up.
    pub fn is_up(&self, node: u32) -> bool {
        self.threads[node as usize].is_some()
    }

    /// Makes server `node` start an election now (as if its timer fired).
    pub fn campaign(&self, node: u32) {
        self.shared.nodes[node as usize].push(NodeInput::Campaign, false);
    }

    /// Cuts the link from `from` to `to` (one way: `to` still reaches `from`).
    pub fn cut(&self, from: u32, to: u32) {
        self.shared
            .net
            .lock()
            .expect("network lock")
            .blocked
            .insert((from, to));
    }

    /// Cuts `group` off from the other servers, both ways.
    pub fn isolate(&self, group: &[u32]) {
        let mut net = self.shared.net.lock().expect("network lock");
        for a in 0..self.shared.config.servers {
            for &b in group {
                if !group.contains(&a) {
                    net.blocked.insert((a, b));
                    net.blocked.insert((b, a));
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.shared
            .net
            .lock()
            .expect("network lock")
            .blocked
            .clear();
    }

    /// A new client with session id `id` (unique per cluster, from 1), which waits
    /// `patience` ticks for an answer before it asks another server, and gives up after
    /// `budget` ticks in all.
    pub fn client(&self, id: u64, patience: u32, budget: u32) -> Client<S> {
        let mailbox = Arc::new(Mailbox::new());
        let mut clients = self.shared.clients.lock().expect("clients lock");
        clients.push(Arc::clone(&mailbox));
        Client {
            shared: Arc::clone(&self.shared),
            index: clients.len() - 1,
            mailbox,
            id,
            seq: 0,
            attempt: 0,
            guess: 0,
            patience,
            budget,
        }
    }

    /// Stops every thread and returns the servers' storage (for a restart of the whole
    /// cluster, or for inspection); empty if called before.
    pub fn stop(&mut self) -> Vec<S> {
        self.stop_threads();
        self.shared
            .storages
            .iter()
            .filter_map(|s| s.lock().expect("storage lock").take())
            .collect()
    }

    fn stop_threads(&mut self) {
        *self.shared.stopped.lock().expect("stop lock") = true;
        for (i, t) in self.threads.iter_mut().enumerate() {
            if let Some(handle) = t.take() {
                self.shared.nodes[i].push(NodeInput::Stop, true);
                let _ = handle.join();
            }
        }
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl<S: Storage + Send + 'static> Drop for Cluster<S> {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Why a client call gave up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No answer within the client's budget: the request may or may not take effect.
    #[error("no answer within {ticks} ticks; the request may or may not take effect")]
    Timeout {
        /// The budget, in ticks.
        ticks: u32,
    },
    /// The store refused the request for good.
    #[error(transparent)]
    Refused(KvError),
}

/// A client session: finds the leader (following `NotLeader` hints, else trying servers in
/// turn), retries a request with the same sequence number until answered, and gives up
/// after its budget. One call at a time.
pub struct Client<S: Storage> {
    shared: Arc<Shared<S>>,
    index: usize,
    mailbox: Arc<Mailbox<ClientInput>>,
    id: u64,
    seq: u64,
    attempt: u64,
    guess: u32,
    patience: u32,
    budget: u32,
}

impl<S: Storage> Client<S> {
    /// The session id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends the next request to `server` first (until a refusal or its patience sends the
    /// client elsewhere).
    pub fn ask_first(&mut self, server: u32) {
        self.guess = server % self.shared.config.servers;
    }

    /// Performs `op` and returns its answer.
    pub fn call(&mut self, op: KvOp) -> Result<KvOutput, ClientError> {
        self.seq += 1;
        let request = KvRequest {
            client: self.id,
            seq: self.seq,
            op,
        };
        let servers = self.shared.config.servers;
        let mut spent = 0u32;
        let mut pause = false;
        loop {
            if self.shared.is_stopped() {
                return Err(ClientError::Timeout { ticks: self.budget });
            }
            // After a refusal, wait a tick before asking again: no busy loop while the
            // cluster has no leader.
            while pause {
                match self.mailbox.recv() {
                    ClientInput::Tick => {
                        spent += 1;
                        if spent >= self.budget {
                            return Err(ClientError::Timeout { ticks: self.budget });
                        }
                        pause = false;
                    }
                    ClientInput::Reply(t, Ok(output)) if t.seq == self.seq => return Ok(output),
                    ClientInput::Reply(..) => {}
                }
            }
            self.attempt += 1;
            let ticket = Ticket {
                client: self.index,
                seq: self.seq,
                attempt: self.attempt,
            };
            let to = self.guess as usize;
            let up = self.shared.net.lock().expect("network lock").up[to];
            if up {
                self.shared.nodes[to].push(NodeInput::Request(ticket, request.clone()), false);
            }
            let mut waited = 0;
            let (next_guess, wait) = loop {
                match self.mailbox.recv() {
                    ClientInput::Tick => {
                        waited += 1;
                        spent += 1;
                        if spent >= self.budget {
                            return Err(ClientError::Timeout { ticks: self.budget });
                        }
                        if waited >= self.patience || !up {
                            break ((self.guess + 1) % servers, false);
                        }
                    }
                    // A late answer to an earlier attempt of this request is its answer too.
                    ClientInput::Reply(t, Ok(output)) if t.seq == self.seq => return Ok(output),
                    ClientInput::Reply(t, _) if t.attempt != self.attempt => {}
                    ClientInput::Reply(_, Ok(_)) => {}
                    ClientInput::Reply(_, Err(KvError::NotLeader { leader })) => {
                        break match leader.filter(|l| l.0 < servers && l.0 != self.guess) {
                            Some(l) => (l.0, false),
                            None => ((self.guess + 1) % servers, true),
                        };
                    }
                    ClientInput::Reply(_, Err(KvError::Retry)) => break (self.guess, true),
                    ClientInput::Reply(_, Err(e)) => return Err(ClientError::Refused(e)),
                }
            };
            self.guess = next_guess;
            pause = wait;
        }
    }
}
