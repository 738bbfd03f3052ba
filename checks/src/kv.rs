//! `coordlab kv`: the replicated key-value store of `coordlab_impls::raft` ([`KvNode`] on a
//! [`FileStorage`]) served over TCP on the loopback interface, one process per server, and
//! a client that finds the leader.
//!
//! ```sh
//! coordlab kv serve --id 0 --cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --data kv0
//! coordlab kv serve --id 1 --cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --data kv1
//! coordlab kv serve --id 2 --cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --data kv2
//! coordlab kv put colour blue --cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
//! coordlab kv get colour --cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
//! ```
//!
//! # Servers
//!
//! `kv serve --id N` is server `sN`: it listens on the `N`th address of `--cluster` (from 0)
//! and keeps its Raft state (`currentTerm`, `votedFor`, the log) in a [`FileStorage`] in
//! `--data` (created if missing; locked while the server runs). One thread owns the
//! [`KvNode`] and takes its inputs one at a time: ticks, messages from the other servers,
//! clients' requests. Every input's durable write is done (fsynced, with `--fsync always`)
//! before the messages it produced are handed to the senders, so no vote or
//! acknowledgement leaves before what it promises is on disk. Each other server gets one
//! outgoing connection, fed by a bounded queue of 1024 messages and reconnected after a
//! failure; a message that finds the queue full or its server unreachable is dropped (Raft
//! tolerates loss, and a leader sends again on its next heartbeat).
//!
//! On stderr a server says one line when it starts, and one when it becomes leader, or
//! follows a new leader or a leader in a new term; nothing else in normal operation.
//!
//! # Units
//!
//! Raft counts time in ticks; `--tick-ms` sets a tick's length (default 10 ms). With
//! [`Config::new`]'s timing, a follower starts an election after 10 to 20 ticks without
//! hearing from a leader (100–200 ms at the default tick), drawn anew each time from a seed
//! the server takes from the clock and its process id; a leader sends heartbeats every 3
//! ticks (30 ms). A server that falls behind (a long fsync, a loaded machine) misses ticks
//! rather than catching up on them. Clients count real time in milliseconds
//! (`--timeout-ms`).
//!
//! # Wire format
//!
//! Newline-delimited JSON: every message is one JSON object on one line, ended by `\n`; a
//! line over 16 MiB closes the connection. The values inside are the `serde` forms of
//! `coordlab_impls::raft`'s types ([`Envelope`], [`KvRequest`], [`KvReply`]).
//!
//! To a server ([`ToServer`]):
//! - `{"raft": ENVELOPE}`: a Raft message, from another server's outgoing connection (which
//!   never reads). Accepted only if its `to` is this server and its `from` another server of
//!   the cluster; dropped otherwise.
//! - `{"request": {"id": N, "request": REQUEST}}`: a client's request; `id` is the client's,
//!   echoed in the reply so a reply is never taken for another request's.
//! - `{"status": {"id": N}}`: what the server knows of itself ([`Status`]).
//!
//! From a server, on the connection a request or status query came on ([`ToClient`]):
//! - `{"reply": {"id": N, "reply": {"Ok": OUTPUT}}}` or `{"reply": {"id": N, "reply": {"Err":
//!   ERROR}}}`; `ERROR` `{"error": "not-leader", "leader": 1}` names the leader the server
//!   knows of (or `null`), `{"error": "retry"}` means the server lost its leadership with the
//!   request in flight: it may or may not take effect, and is retried with the same
//!   sequence number.
//! - `{"status": {"id": N, "status": STATUS}}`.
//!
//! Replies on one connection come in the order requests finish, not the order they came.
//!
//! ```
//! use coordlab_checks::kv::{ToClient, ToServer};
//! use coordlab_impls::raft::{KvOp, KvOutput, KvRequest};
//!
//! let put = ToServer::Request {
//!     id: 1,
//!     request: KvRequest {
//!         client: 77,
//!         seq: 1,
//!         op: KvOp::Put { key: "colour".into(), value: "blue".into() },
//!     },
//! };
//! assert_eq!(
//!     serde_json::to_string(&put)?,
//!     r#"{"request":{"id":1,"request":{"client":77,"seq":1,"op":{"op":"put","key":"colour","value":"blue"}}}}"#
//! );
//! let reply: ToClient =
//!     serde_json::from_str(r#"{"reply":{"id":1,"reply":{"Ok":{"result":"written"}}}}"#)?;
//! assert_eq!(reply, ToClient::Reply { id: 1, reply: Ok(KvOutput::Written) });
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # Clients
//!
//! `kv put`, `kv get` and `kv cas` each open a client session (an id drawn from the clock
//! and the process id) and send one request with sequence number 1, as
//! `coordlab_impls::raft::Client` does in process: to each server in turn, following a
//! `not-leader` reply's hint at once, pausing 20 ms after any other refusal or a server
//! it cannot reach, moving on after 1 s without an answer, and sending the same sequence
//! number every time, so a write retried at another server is applied once. After
//! `--timeout-ms` without an answer it gives up: the outcome is unknown. The answer goes to
//! stdout (`written`; the value or `(absent)`; `swapped`, or `not swapped: ` and the value
//! the key held), and the server that gave it to stderr. `kv status` asks every server for
//! its [`Status`].
//!
//! # Exit codes
//!
//! - `kv serve` runs until it is killed; it exits with 2 and one line on stderr if
//!   `--cluster`, `--id`, `--tick-ms` or `--data` is bad (an address that is not
//!   `127.0.0.1:PORT` or another loopback address, a port in use, a data directory another
//!   server has open or whose log is damaged), and with 1 and one line if its storage fails
//!   while it runs: it cannot promise what it would send.
//! - `kv put`, `kv get`, `kv cas`: 0 with an answer (a `cas` that did not swap too); 1 with
//!   one line if no server answered within `--timeout-ms` (the outcome is unknown) or the
//!   store refused the request for good; 2 for bad usage.
//! - `kv status`: 0 if every server answered as the server its position in `--cluster`
//!   names, 1 if one did not answer or gave another id (its line says which), 2 for bad
//!   usage.
//!
//! # What is not checked
//!
//! - **Who connects.** There is no authentication: anything that can reach a loopback port
//!   can send a server Raft messages or requests. Servers therefore listen on loopback
//!   addresses only. A server drops messages no correct server sends (`RaftCore::step`:
//!   absurd terms, misnumbered entries, acknowledgements of entries it lacks, requests that
//!   would remove committed entries), so garbage does not stop it; a well-formed forged
//!   message (a vote, a higher term) can still disturb the cluster as a faulty peer would.
//! - **Connections.** Each connection gets a thread, and there is no limit on them nor an
//!   idle timeout: thousands of held connections exhaust a server's threads or file
//!   descriptors, and clients get no answer until they close.
//! - **The cluster's identity.** Every server must be given the same `--cluster` list, in
//!   the same order, at every start, and its own data directory; nothing checks this (a data
//!   directory from another cluster, or a reordered list, is not detected). There are no
//!   membership changes.
//! - **Durability beyond a process crash.** The end-to-end test kills servers with SIGKILL,
//!   which keeps the operating system's page cache: it passes with `--fsync never` too. What
//!   fsync adds (surviving a power failure or an OS crash) is not tested here; the file store's
//!   own tests cover torn writes.
//! - **Growth.** There are no snapshots: a server keeps its whole log in memory, replays it
//!   from the start when it restarts, and remembers every client session it ever saw (each
//!   `kv put` is a new session).
//! - **Throughput.** Group commit: each step takes every input that has arrived (up to 256)
//!   and makes one durable write for them; with `--fsync always` the steps per second are
//!   bounded by the disk's fsyncs per second. A request larger than 1 MiB encoded is refused
//!   (`KvError::TooLarge`), and an AppendEntries carries at most 1 MiB of entries, so every
//!   message stays within the 16 MiB line limit.
//!
//! [`Config::new`]: coordlab_impls::raft::Config::new
//! [`Envelope`]: coordlab_impls::raft::Envelope
//! [`KvRequest`]: coordlab_impls::raft::KvRequest
//! [`KvReply`]: coordlab_impls::raft::KvReply
//! [`KvNode`]: coordlab_impls::raft::KvNode
//! [`FileStorage`]: coordlab_impls::raft::FileStorage

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use coordlab_impls::raft::{Envelope, Fsync, KvOp, KvOutput, KvReply, KvRequest};
use serde::{Deserialize, Serialize};

use crate::Fault;

mod client;
mod server;

pub use client::{CallError, Client, status};

/// The longest line either side reads: 16 MiB.
pub const MAX_LINE: usize = 16 << 20;
/// The longest `--tick-ms`: 10 s.
const MAX_TICK_MS: u64 = 10_000;
/// The longest `--timeout-ms`: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// A line to a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToServer {
    /// A Raft message from another server.
    Raft(Envelope),
    /// A client's request.
    Request {
        /// The client's number for it, echoed in the reply.
        id: u64,
        /// The request.
        request: KvRequest,
    },
    /// A question for the server's [`Status`].
    Status {
        /// The client's number for it, echoed in the reply.
        id: u64,
    },
}

/// A line from a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToClient {
    /// The answer to a request.
    Reply {
        /// The request's `id`.
        id: u64,
        /// The answer.
        reply: KvReply,
    },
    /// The answer to a status query.
    Status {
        /// The query's `id`.
        id: u64,
        /// The server's state.
        status: Status,
    },
}

/// What a server knows of itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Status {
    /// Its id (`N` of `sN`).
    pub server: u32,
    /// `leader`, `follower` or `candidate`.
    pub role: String,
    /// `currentTerm`.
    pub term: u64,
    /// The leader it knows of in this term.
    pub leader: Option<u32>,
    /// `commitIndex`.
    pub commit: u64,
    /// The last index its state machine applied.
    pub applied: u64,
    /// The index of its last log entry (0: empty log).
    pub last_index: u64,
    /// The term of its last log entry (0: empty log).
    pub last_term: u64,
}

/// The `coordlab kv` subcommands.
#[derive(clap::Subcommand)]
pub enum KvCommand {
    /// Run one server of a cluster on 127.0.0.1 (until killed).
    Serve(ServeArgs),
    /// Set KEY to VALUE.
    Put {
        /// The key.
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// The value.
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Read KEY (a linearizable read: the leader confirms it still leads first).
    Get {
        /// The key.
        #[arg(allow_hyphen_values = true)]
        key: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Set KEY to NEW if it holds OLD (--expect OLD) or nothing (--absent).
    Cas(CasArgs),
    /// Ask every server of the cluster for its role, term, leader and log.
    Status {
        /// The cluster's addresses, comma-separated, in server order.
        #[arg(long, value_name = "ADDR0,ADDR1,...")]
        cluster: String,
        /// Print a JSON array (one object per server, `null` for one that did not answer).
        #[arg(long)]
        json: bool,
        /// Milliseconds to wait for each server.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        timeout_ms: u64,
    },
}

/// `coordlab kv serve`'s options.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// This server's id: its position in --cluster, from 0.
    #[arg(long, value_name = "N")]
    id: u32,
    /// Every server's address (127.0.0.1:PORT), comma-separated, in id order; the same list
    /// for every server.
    #[arg(long, value_name = "ADDR0,ADDR1,...")]
    cluster: String,
    /// This server's data directory (created if missing).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Milliseconds per Raft tick (elections after 10 to 20 ticks, heartbeats every 3).
    #[arg(long, value_name = "MS", default_value_t = 10)]
    tick_ms: u64,
    /// When the log is forced to disk: before every answer (`always`), or never (unsafe: a
    /// power failure can lose acknowledged writes and votes).
    #[arg(long, value_enum, default_value_t = FsyncArg::Always)]
    fsync: FsyncArg,
}

/// `--fsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FsyncArg {
    Always,
    Never,
}

impl FsyncArg {
    fn fsync(self) -> Fsync {
        match self {
            FsyncArg::Always => Fsync::Always,
            FsyncArg::Never => Fsync::Never,
        }
    }
}

/// A client's options.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The cluster's addresses, comma-separated, in server order.
    #[arg(long, value_name = "ADDR0,ADDR1,...")]
    cluster: String,
    /// Give up after this many milliseconds without an answer (the outcome is then unknown).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,
}

/// `coordlab kv cas`'s arguments.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("expected").required(true).args(["expect", "absent"])))]
pub struct CasArgs {
    /// The key.
    #[arg(allow_hyphen_values = true)]
    key: String,
    /// The value it gets.
    #[arg(allow_hyphen_values = true)]
    new: String,
    /// The value KEY must hold.
    #[arg(long, value_name = "OLD", allow_hyphen_values = true)]
    expect: Option<String>,
    /// KEY must hold nothing.
    #[arg(long)]
    absent: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// Runs a `coordlab kv` subcommand.
pub fn run(command: KvCommand) -> Result<ExitCode, Fault> {
    match command {
        KvCommand::Serve(args) => server::serve(args),
        KvCommand::Put { key, value, client } => client::cli(KvOp::Put { key, value }, &client),
        KvCommand::Get { key, client } => client::cli(KvOp::Get { key }, &client),
        KvCommand::Cas(CasArgs {
            key,
            new,
            expect,
            absent: _,
            client,
        }) => client::cli(
            KvOp::Cas {
                key,
                expected: expect,
                new,
            },
            &client,
        ),
        KvCommand::Status {
            cluster,
            json,
            timeout_ms,
        } => client::status_cli(&cluster, json, timeout_ms),
    }
}

/// Parses `--cluster`: loopback `IP:PORT` addresses, comma-separated, each once, none with
/// port 0.
pub fn parse_cluster(list: &str) -> Result<Vec<SocketAddr>, Fault> {
    let bad = |msg: String| Fault::usage(format!("--cluster `{list}`: {msg}"));
    let mut out: Vec<SocketAddr> = Vec::new();
    for (i, part) in list.split(',').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            return Err(bad(format!(
                "address {i} is empty (expected 127.0.0.1:PORT,...)"
            )));
        }
        let addr: SocketAddr = part.parse().map_err(|_| {
            bad(format!(
                "`{part}` is not an IP:PORT address (expected 127.0.0.1:PORT)"
            ))
        })?;
        if !addr.ip().is_loopback() {
            return Err(bad(format!(
                "`{part}` is not a loopback address: servers listen on 127.0.0.1 only (there is no authentication)"
            )));
        }
        if addr.port() == 0 {
            return Err(bad(format!("`{part}`: port 0 is not a server's port")));
        }
        if let Some(j) = out.iter().position(|a| *a == addr) {
            return Err(bad(format!(
                "`{part}` is listed twice (servers {j} and {i})"
            )));
        }
        out.push(addr);
    }
    if out.len() > u32::MAX as usize {
        return Err(bad("too many servers".into()));
    }
    Ok(out)
}

fn check_ms(option: &str, ms: u64, max: u64) -> Result<Duration, Fault> {
    if ms == 0 || ms > max {
        return Err(Fault::usage(format!(
            "{option} {ms}: expected 1 to {max} milliseconds"
        )));
    }
    Ok(Duration::from_millis(ms))
}

/// Reads one line (without its `\n`) into `buf`: `Ok(false)` at the end of the stream.
/// A line over [`MAX_LINE`] bytes, or a stream that ends inside a line, is an error.
pub(crate) fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    let n = io::Read::take(&mut *r, MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE {
            io::Error::new(io::ErrorKind::InvalidData, "line over 16 MiB")
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a line")
        });
    }
    buf.pop();
    Ok(true)
}

/// Writes `value` as one JSON line (not flushed).
pub(crate) fn write_line(w: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}

/// One line on stderr; a closed stderr is ignored.
fn say(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// The answer as the client prints it.
fn show_output(output: &KvOutput) -> String {
    let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_string());
    match output {
        KvOutput::Written => "written".to_string(),
        KvOutput::Value { value: v } => value(v),
        KvOutput::Cas { swapped: true, .. } => "swapped".to_string(),
        KvOutput::Cas {
            swapped: false,
            previous,
        } => format!("not swapped: {}", value(previous)),
    }
}

/// 64 bits from the clock, the process id and a counter, mixed (splitmix64): for session
/// ids and election timeout seeds, never 0.
pub(crate) fn entropy() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = nanos
        ^ u64::from(std::process::id()).rotate_left(32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_lists_loopback_addresses_once() {
        let ok = parse_cluster("127.0.0.1:7000, 127.0.0.1:7001,[::1]:7002").unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[1], "127.0.0.1:7001".parse().unwrap());
        for (list, needle) in [
            ("", "address 0 is empty"),
            ("127.0.0.1:7000,", "address 1 is empty"),
            ("127.0.0.1", "is not an IP:PORT address"),
            ("localhost:7000", "is not an IP:PORT address"),
            ("10.0.0.1:7000", "not a loopback address"),
            ("127.0.0.1:0", "port 0"),
            (
                "127.0.0.1:7000,127.0.0.1:7000",
                "listed twice (servers 0 and 1)",
            ),
        ] {
            let e = parse_cluster(list).unwrap_err().to_string();
            assert!(e.starts_with("--cluster `"), "{e}");
            assert!(e.contains(needle), "`{needle}` not in {e}");
        }
    }

    #[test]
    fn lines_are_bounded_and_whole() {
        let mut buf = Vec::new();
        let mut r = io::Cursor::new(b"{\"a\":1}\n{\"b\"".to_vec());
        assert!(read_line(&mut r, &mut buf).unwrap());
        assert_eq!(buf, b"{\"a\":1}");
        let e = read_line(&mut r, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let mut r = io::Cursor::new(Vec::new());
        assert!(!read_line(&mut r, &mut buf).unwrap());
        let mut r = io::Cursor::new(vec![b'x'; MAX_LINE + 2]);
        let e = read_line(&mut r, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn replies_and_statuses_round_trip() {
        use coordlab_impls::raft::{KvError, NodeId};
        for line in [
            ToClient::Reply {
                id: 3,
                reply: Err(KvError::NotLeader {
                    leader: Some(NodeId(2)),
                }),
            },
            ToClient::Reply {
                id: 4,
                reply: Err(KvError::Retry),
            },
            ToClient::Status {
                id: 5,
                status: Status {
                    server: 1,
                    role: "follower".into(),
                    term: 3,
                    leader: Some(0),
                    commit: 9,
                    applied: 9,
                    last_index: 10,
                    last_term: 3,
                },
            },
        ] {
            let text = serde_json::to_string(&line).unwrap();
            assert!(!text.contains('\n'));
            assert_eq!(serde_json::from_str::<ToClient>(&text).unwrap(), line);
        }
        let text = serde_json::to_string(&ToClient::Reply {
            id: 3,
            reply: Err(KvError::NotLeader {
                leader: Some(NodeId(2)),
            }),
        })
        .unwrap();
        assert_eq!(
            text,
            r#"{"reply":{"id":3,"reply":{"Err":{"error":"not-leader","leader":2}}}}"#
        );
    }

    #[test]
    fn session_ids_differ() {
        let a = entropy();
        let b = entropy();
        assert_ne!(a, b);
        assert_ne!(a, 0);
    }
}
