//! A replicated key-value store on Raft: `put`, `get` and `cas` on string keys and values.
//!
//! - **Writes** (`put`, `cas`) are log entries. Each carries the client's id and a sequence
//!   number; the state machine remembers each client's last sequence number and answer (a
//!   client session, Ongaro's thesis §6.3), so a request retried after a timeout — perhaps at
//!   another server — is applied once and answered with the first answer.
//! - **Reads** (`get`) are read-index reads (thesis §6.4): the leader notes its commit
//!   index, confirms with one round of heartbeats that a majority still follows it, waits
//!   until its state machine has applied that index, and reads. No clock is trusted: the
//!   only timing assumption is none (a leader lease would assume bounded clock drift; this
//!   store does not use one). A read costs a round trip to a majority but no log entry.
//!
//! [`KvNode`] is one server: a [`RaftCore`], its [`Storage`] and the state machine, driven
//! by whatever runtime delivers its inputs (the in-process [`Cluster`](super::Cluster), or
//! `coordlab kv serve` over TCP).

use std::collections::BTreeMap;
use std::fmt;

use super::core::{Config, ConfigError, NotLeader, RaftCore, Ready};
use super::message::{Envelope, Event};
use super::storage::{Storage, StorageError};
use super::types::{Entry, Index, NodeId, Payload, Term};

/// An operation on the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "op", rename_all = "kebab-case"))]
pub enum KvOp {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Reads `key`.
    Get {
        /// The key.
        key: String,
    },
    /// Sets `key` to `new` if its value is `expected` (`None`: the key is absent).
    Cas {
        /// The key.
        key: String,
        /// The value it must have.
        expected: Option<String>,
        /// The value it gets.
        new: String,
    },
}

impl KvOp {
    /// The key it touches.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. } | KvOp::Get { key } | KvOp::Cas { key, .. } => key,
        }
    }
}

/// A client's request: its session id, its sequence number (from 1, one higher for each
/// new write; a retry reuses the number), and the operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KvRequest {
    /// The client's session id.
    pub client: u64,
    /// The request's sequence number in the session.
    pub seq: u64,
    /// What to do.
    pub op: KvOp,
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "result", rename_all = "kebab-case"))]
pub enum KvOutput {
    /// A `put` was applied.
    Written,
    /// A `get`'s value (`None`: absent).
    Value {
        /// The value read.
        value: Option<String>,
    },
    /// A `cas`'s outcome and the value the key held before it.
    Cas {
        /// Whether the value was `expected` and is now `new`.
        swapped: bool,
        /// The value before the operation.
        previous: Option<String>,
    },
}

/// Why a request was not answered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "error", rename_all = "kebab-case"))]
pub enum KvError {
    /// This server does not lead; ask `leader` (if known).
    #[error("not the leader (leader: {})", leader.map_or("unknown".to_string(), |l| l.to_string()))]
    NotLeader {
        /// The leader it knows of.
        leader: Option<NodeId>,
    },
    /// The server lost its leadership before the request was done: it may or may not take
    /// effect; retry it (with the same sequence number).
    #[error("leadership lost before the request was done; retry it")]
    Retry,
    /// The request is larger than [`MAX_REQUEST_BYTES`] encoded; it was not proposed.
    #[error("the request is {bytes} bytes encoded, more than the {max} a server accepts")]
    TooLarge {
        /// Its size, encoded.
        bytes: usize,
        /// The most a server accepts.
        max: usize,
    },
    /// The request's sequence number is older than the session's last applied one: the
    /// client already moved on, its answer is gone.
    #[error("request {seq} of client {client} is older than the session's last ({last})")]
    Stale {
        /// The client.
        client: u64,
        /// The request's number.
        seq: u64,
        /// The session's last applied number.
        last: u64,
    },
}

/// The largest request a server accepts, encoded ([`KvRequest::encode`]): 1 MiB. Larger
/// entries would make AppendEntries requests too large to replicate in one message.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The answer to a request.
pub type KvReply = Result<KvOutput, KvError>;

// ---- Encoding of write commands in log entries ----

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.bytes(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn string(&mut self) -> Option<String> {
        let n = u32::from_le_bytes(self.bytes(4)?.try_into().expect("4 bytes")) as usize;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
}

impl KvRequest {
    /// The request as log-entry bytes: a tag (1 put, 2 get, 3 cas), the client and sequence
    /// numbers (u64 little-endian), then the strings, each a u32 little-endian length and
    /// UTF-8 bytes (`cas`: a presence byte before `expected`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        let tag = match &self.op {
            KvOp::Put { .. } => 1,
            KvOp::Get { .. } => 2,
            KvOp::Cas { .. } => 3,
        };
        out.push(tag);
        out.extend_from_slice(&self.client.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        match &self.op {
            KvOp::Put { key, value } => {
                put_str(&mut out, key);
                put_str(&mut out, value);
            }
            KvOp::Get { key } => put_str(&mut out, key),
            KvOp::Cas { key, expected, new } => {
                put_str(&mut out, key);
                match expected {
                    Some(e) => {
                        out.push(1);
                        put_str(&mut out, e);
                    }
                    None => out.push(0),
                }
                put_str(&mut out, new);
            }
        }
        out
    }

    /// Reads what [`encode`](KvRequest::encode) wrote; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<KvRequest> {
        let mut r = Reader(bytes);
        let tag = r.u8()?;
        let client = r.u64()?;
        let seq = r.u64()?;
        let op = match tag {
            1 => KvOp::Put {
                key: r.string()?,
                value: r.string()?,
            },
            2 => KvOp::Get { key: r.string()? },
            3 => {
                let key = r.string()?;
                let expected = match r.u8()? {
                    0 => None,
                    1 => Some(r.string()?),
                    _ => return None,
                };
                KvOp::Cas {
                    key,
                    expected,
                    new: r.string()?,
                }
            }
            _ => return None,
        };
        r.0.is_empty().then_some(KvRequest { client, seq, op })
    }
}

/// The replicated state: the map and the client sessions. Deterministic: every server that
/// applies the same entries in the same order holds the same state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStateMachine {
    data: BTreeMap<String, String>,
    /// Per client: the last applied sequence number and its answer.
    sessions: BTreeMap<u64, (u64, KvOutput)>,
    applied: Index,
}

impl KvStateMachine {
    /// An empty store.
    pub fn new() -> KvStateMachine {
        KvStateMachine::default()
    }

    /// The last applied index.
    pub fn applied(&self) -> Index {
        self.applied
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.data.get(key)
    }

    /// Every key and value, in key order.
    pub fn data(&self) -> &BTreeMap<String, String> {
        &self.data
    }

    /// Applies one committed entry; returns the request it carried and its answer (a
    /// no-op, or bytes that are not a request, answer nothing).
    ///
    /// Panics if `entry` is not the next index: the runtime applies in order.
    pub fn apply(&mut self, entry: &Entry) -> Option<(KvRequest, KvReply)> {
        assert_eq!(
            entry.index,
            self.applied + 1,
            "entries are applied in order"
        );
        self.applied = entry.index;
        let Payload::Data(bytes) = &entry.payload else {
            return None;
        };
        let request = KvRequest::decode(bytes)?;
        if let Some((last, answer)) = self.sessions.get(&request.client) {
            if request.seq == *last {
                let answer = answer.clone();
                return Some((request, Ok(answer)));
            }
            if request.seq < *last {
                let last = *last;
                let err = KvError::Stale {
                    client: request.client,
                    seq: request.seq,
                    last,
                };
                return Some((request, Err(err)));
            }
        }
        let output = match &request.op {
            KvOp::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                KvOutput::Written
            }
            KvOp::Get { key } => KvOutput::Value {
                value: self.data.get(key).cloned(),
            },
            KvOp::Cas { key, expected, new } => {
                let previous = self.data.get(key).cloned();
                let swapped = previous == *expected;
                if swapped {
                    self.data.insert(key.clone(), new.clone());
                }
                KvOutput::Cas { swapped, previous }
            }
        };
        self.sessions
            .insert(request.client, (request.seq, output.clone()));
        Some((request, Ok(output)))
    }
}

/// One input of a [`KvNode::batch`].
#[derive(Debug)]
pub enum KvInput<T> {
    /// A tick of time.
    Tick,
    /// A message from another server.
    Message(Envelope),
    /// A client's request and the ticket its answer comes back with.
    Request(T, KvRequest),
}

/// What a [`KvNode`] step produced: messages to send and answers to give.
#[derive(Debug)]
pub struct KvOutputs<T> {
    /// Messages for other servers, in order. Send only after the step returned: its durable
    /// write is done.
    pub messages: Vec<Envelope>,
    /// Answers, with the ticket the request came with.
    pub replies: Vec<(T, KvReply)>,
    /// The core's steps, if its config records them.
    pub events: Vec<Event>,
    /// Entries applied in this step.
    pub applied: Vec<Entry>,
}

impl<T> Default for KvOutputs<T> {
    fn default() -> Self {
        KvOutputs {
            messages: Vec::new(),
            replies: Vec::new(),
            events: Vec::new(),
            applied: Vec::new(),
        }
    }
}

/// One key-value server: a Raft core, its storage and the state machine. Single-threaded:
/// a runtime owns it and feeds it ticks, messages and client requests; each input returns
/// the [`KvOutputs`] to act on. `T` is the runtime's ticket for a request (whom to answer).
pub struct KvNode<S: Storage, T> {
    core: RaftCore,
    storage: S,
    sm: KvStateMachine,
    /// Writes proposed here: index → (term, ticket).
    writes: BTreeMap<Index, (Term, T)>,
    /// Reads asked for: ctx → (ticket, key).
    reads: BTreeMap<u64, (T, String)>,
    /// Reads confirmed, waiting for the state machine to reach their index.
    waiting: Vec<(Index, T, String)>,
    next_ctx: u64,
}

/// Why a [`KvNode`] could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Storage failed: the server must stop (it cannot promise what it sends).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl<S: Storage, T> KvNode<S, T> {
    /// Starts (or restarts) a server from what `storage` holds.
    pub fn new(config: Config, mut storage: S) -> Result<KvNode<S, T>, NodeError> {
        let durable = storage.load()?;
        let core = RaftCore::new(config, durable)?;
        Ok(KvNode {
            core,
            storage,
            sm: KvStateMachine::new(),
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            waiting: Vec::new(),
            next_ctx: 0,
        })
    }

    /// The Raft core (read-only).
    pub fn core(&self) -> &RaftCore {
        &self.core
    }

    /// The state machine (read-only).
    pub fn state_machine(&self) -> &KvStateMachine {
        &self.sm
    }

    /// The storage, to hand to the next start after this server stops.
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// What is pending without a new input: after [`new`](KvNode::new), the core's
    /// `Restart` event.
    pub fn flush(&mut self) -> Result<KvOutputs<T>, NodeError> {
        self.process(Vec::new())
    }

    /// One tick of time.
    pub fn tick(&mut self) -> Result<KvOutputs<T>, NodeError> {
        self.core.tick();
        self.process(Vec::new())
    }

    /// Starts an election now (a follower or candidate only).
    pub fn campaign_now(&mut self) -> Result<KvOutputs<T>, NodeError> {
        self.core.campaign_now();
        self.process(Vec::new())
    }

    /// A message from another server.
    pub fn step(&mut self, envelope: Envelope) -> Result<KvOutputs<T>, NodeError> {
        self.core.step(envelope.from, envelope.message);
        self.process(Vec::new())
    }

    /// A client's request; `ticket` comes back with its answer (now, if refused, or in a
    /// later step's outputs).
    pub fn request(&mut self, ticket: T, request: KvRequest) -> Result<KvOutputs<T>, NodeError> {
        let mut replies = Vec::new();
        self.accept(ticket, request, &mut replies);
        self.process(replies)
    }

    /// Several inputs taken as one step: each goes to the core in order, and their durable
    /// writes become one (one fsync for a whole batch of requests and messages: group
    /// commit). The outputs are what the inputs one by one would give, with the messages
    /// sent only after the single write.
    pub fn batch(
        &mut self,
        inputs: impl IntoIterator<Item = KvInput<T>>,
    ) -> Result<KvOutputs<T>, NodeError> {
        let mut replies = Vec::new();
        for input in inputs {
            match input {
                KvInput::Tick => self.core.tick(),
                KvInput::Message(e) => self.core.step(e.from, e.message),
                KvInput::Request(ticket, request) => self.accept(ticket, request, &mut replies),
            }
        }
        self.process(replies)
    }

    /// Hands a request to the core; a refusal's answer goes to `replies`.
    fn accept(&mut self, ticket: T, request: KvRequest, replies: &mut Vec<(T, KvReply)>) {
        let refused = |e: NotLeader| match e {
            NotLeader::NotLeader { leader } => KvError::NotLeader { leader },
        };
        let encoded = request.encode();
        if encoded.len() > MAX_REQUEST_BYTES {
            let (bytes, max) = (encoded.len(), MAX_REQUEST_BYTES);
            replies.push((ticket, Err(KvError::TooLarge { bytes, max })));
            return;
        }
        match &request.op {
            KvOp::Get { key } => {
                let ctx = self.next_ctx;
                match self.core.read_index(ctx) {
                    Ok(()) => {
                        self.next_ctx += 1;
                        self.reads.insert(ctx, (ticket, key.clone()));
                    }
                    Err(e) => replies.push((ticket, Err(refused(e)))),
                }
            }
            KvOp::Put { .. } | KvOp::Cas { .. } => match self.core.propose(encoded) {
                Ok((index, term)) => {
                    self.writes.insert(index, (term, ticket));
                }
                Err(e) => replies.push((ticket, Err(refused(e)))),
            },
        }
    }

    fn process(&mut self, mut replies: Vec<(T, KvReply)>) -> Result<KvOutputs<T>, NodeError> {
        let Ready {
            persist,
            messages,
            committed,
            reads,
            dropped_reads,
            events,
        } = self.core.ready();
        if !persist.is_empty() {
            self.storage.persist(&persist)?;
        }
        for entry in &committed {
            let result = self.sm.apply(entry);
            if let Some((term, ticket)) = self.writes.remove(&entry.index) {
                match result {
                    Some((_, reply)) if term == entry.term => replies.push((ticket, reply)),
                    // Another leader's entry took the index: this request was lost with its
                    // leader (it may still be in no log, or in a later one). Retry.
                    _ => replies.push((ticket, Err(KvError::Retry))),
                }
            }
        }
        for r in reads {
            if let Some((ticket, key)) = self.reads.remove(&r.ctx) {
                self.waiting.push((r.index, ticket, key));
            }
        }
        for ctx in dropped_reads {
            if let Some((ticket, _)) = self.reads.remove(&ctx) {
                replies.push((ticket, Err(KvError::Retry)));
            }
        }
        let applied = self.sm.applied();
        let mut k = 0;
        while k < self.waiting.len() {
            if self.waiting[k].0 <= applied {
                let (_, ticket, key) = self.waiting.swap_remove(k);
                let value = self.sm.get(&key).cloned();
                replies.push((ticket, Ok(KvOutput::Value { value })));
            } else {
                k += 1;
            }
        }
        Ok(KvOutputs {
            messages,
            replies,
            events,
            applied: committed,
        })
    }
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Put { key, value } => write!(f, "put {key}={value}"),
            KvOp::Get { key } => write!(f, "get {key}"),
            KvOp::Cas { key, expected, new } => write!(
                f,
                "cas {key} {}→{new}",
                expected.as_deref().unwrap_or("(absent)")
            ),
        }
    }
}
