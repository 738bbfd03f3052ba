//! `coordlab kv serve`: one server of the cluster (the parent module's docs give the wire
//! format, the units and the exit codes).
//!
//! Threads: the event loop (the only one that touches the [`KvNode`]); a listener that
//! accepts connections; per connection a reader, and a writer once the connection asks
//! something; per other server a sender that owns the outgoing connection.

use std::io::{BufReader, BufWriter, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use coordlab_impls::raft::{
    Config, Envelope, FileStorage, KvInput, KvNode, KvOutputs, KvRequest, NodeError, NodeId, Role,
    StorageError,
};
use crossbeam_channel::{Receiver, Sender, bounded, select};

use super::{
    MAX_TICK_MS, ServeArgs, Status, ToClient, ToServer, check_ms, parse_cluster, read_line, say,
    write_line,
};
use crate::Fault;

/// Inputs waiting for the event loop; a reader blocks when it is full (TCP's flow control
/// then slows its sender).
const INPUT_QUEUE: usize = 4096;
/// Messages waiting for one other server; beyond it they are dropped.
const PEER_QUEUE: usize = 1024;
/// Replies waiting for one client connection; beyond it they are dropped (the client
/// retries).
const REPLY_QUEUE: usize = 1024;
/// How long a sender waits to connect to another server.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a write to another server or a client may block before the connection is
/// dropped (a stopped process stops reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connection to another server, messages to it are dropped this long
/// before the next attempt: shorter than a heartbeat interval at the default tick (30 ms),
/// so a restarted server hears the leader's next heartbeat rather than timing out and
/// disturbing it with an election.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

/// Whom to answer: a client connection's writer and the request's `id`.
struct Ticket {
    out: Sender<ToClient>,
    id: u64,
}

enum Input {
    Raft(Envelope),
    Request(Ticket, KvRequest),
    Status(Ticket),
}

pub(super) fn serve(args: ServeArgs) -> Result<ExitCode, Fault> {
    let cluster = parse_cluster(&args.cluster)?;
    let n = cluster.len();
    let id = args.id;
    if id as usize >= n {
        return Err(Fault::usage(format!(
            "--id {id}: --cluster lists {n} server{}, ids 0 to {}",
            if n == 1 { "" } else { "s" },
            n - 1
        )));
    }
    let tick = check_ms("--tick-ms", args.tick_ms, MAX_TICK_MS)?;
    // The port before the data directory: a server that cannot listen creates nothing.
    let me = cluster[id as usize];
    let listener = TcpListener::bind(me).map_err(|e| {
        Fault::usage(format!(
            "--cluster: cannot listen on {me}, server {id}'s address: {e}"
        ))
    })?;
    let storage = FileStorage::open_with(&args.data, args.fsync.fsync())
        .map_err(|e| storage_fault(&args.data, &e))?;
    let mut config = Config::new(NodeId(id), (0..n as u32).map(NodeId).collect());
    config.record_events = false;
    config.seed = super::entropy();
    let (min, max) = (config.election_timeout_min, config.election_timeout_max);
    let mut node: KvNode<FileStorage, Ticket> =
        KvNode::new(config, storage).map_err(|e| match e {
            NodeError::Storage(e) => storage_fault(&args.data, &e),
            NodeError::Config(e) => Fault::usage(format!("--cluster: {e}")),
        })?;

    let (inputs, events) = bounded::<Input>(INPUT_QUEUE);
    let peers: Vec<Option<Sender<Envelope>>> = cluster
        .iter()
        .enumerate()
        .map(|(j, &addr)| {
            (j != id as usize).then(|| {
                let (tx, rx) = bounded(PEER_QUEUE);
                thread::spawn(move || send_to_peer(addr, &rx));
                tx
            })
        })
        .collect();
    let me_id = NodeId(id);
    thread::spawn(move || accept(&listener, &inputs, me_id, n as u32));

    say(&format!(
        "s{id}: serving {me}, data in {} (term {}, {} log entries); elections after {}–{} ms without a leader",
        args.data.display(),
        node.core().term(),
        node.core().last_index(),
        u128::from(min) * tick.as_millis(),
        u128::from(max) * tick.as_millis(),
    ));

    let ticker = crossbeam_channel::tick(tick);
    let mut shown = Shown::default();
    let mut step = node.flush();
    loop {
        let outputs = match step {
            Ok(o) => o,
            Err(e) => {
                say(&format!(
                    "coordlab: kv serve: s{id} stops: {e} (it cannot promise what it would send)"
                ));
                return Ok(ExitCode::from(1));
            }
        };
        deliver(outputs, &peers);
        shown.announce(&node);
        let first = select! {
            recv(ticker) -> _ => KvInput::Tick,
            recv(events) -> input => match input {
                Ok(input) => match to_kv(input, &node) {
                    Some(i) => i,
                    None => {
                        step = Ok(KvOutputs::default());
                        continue;
                    }
                },
                Err(_) => {
                    say(&format!("coordlab: kv serve: s{id} stops: its listener stopped"));
                    return Ok(ExitCode::from(1));
                }
            },
        };
        // Group commit: what else has arrived goes into the same step, so one durable
        // write (one fsync) covers the whole batch.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match events.try_recv() {
                Ok(input) => batch.extend(to_kv(input, &node)),
                Err(_) => break,
            }
        }
        step = node.batch(batch);
    }
}

/// The most inputs one step takes (one durable write for all of them).
const MAX_BATCH: usize = 256;

/// An input for the node; a status request is answered at once (`None`).
fn to_kv(input: Input, node: &KvNode<FileStorage, Ticket>) -> Option<KvInput<Ticket>> {
    match input {
        Input::Raft(envelope) => Some(KvInput::Message(envelope)),
        Input::Request(ticket, request) => Some(KvInput::Request(ticket, request)),
        Input::Status(ticket) => {
            let status = ToClient::Status {
                id: ticket.id,
                status: status(node),
            };
            let _ = ticket.out.try_send(status);
            None
        }
    }
}

/// A fault of the data directory, for exit code 2.
fn storage_fault(dir: &Path, e: &StorageError) -> Fault {
    match e {
        StorageError::Io {
            op: "lock", source, ..
        } if source.kind() == ErrorKind::WouldBlock => Fault::usage(format!(
            "--data {}: locked: another server has this data directory open",
            dir.display()
        )),
        e => Fault::usage(format!("--data {}: {e}", dir.display())),
    }
}

/// Hands messages to the senders and replies to the client writers; drops what does not
/// fit.
fn deliver(outputs: KvOutputs<Ticket>, peers: &[Option<Sender<Envelope>>]) {
    for envelope in outputs.messages {
        if let Some(Some(peer)) = peers.get(envelope.to.0 as usize) {
            let _ = peer.try_send(envelope);
        }
    }
    for (ticket, reply) in outputs.replies {
        let _ = ticket.out.try_send(ToClient::Reply {
            id: ticket.id,
            reply,
        });
    }
}

fn status(node: &KvNode<FileStorage, Ticket>) -> Status {
    let core = node.core();
    let last_index = core.last_index();
    Status {
        server: core.id().0,
        role: core.role().to_string(),
        term: core.term(),
        leader: core.leader().map(|l| l.0),
        commit: core.commit_index(),
        applied: node.state_machine().applied(),
        last_index,
        last_term: core.term_at(last_index),
    }
}

/// The last role, term and leader said on stderr.
#[derive(Default)]
struct Shown(Option<(Role, u64, Option<NodeId>)>);

impl Shown {
    /// One line when the server becomes leader, or follows a leader it did not follow (or
    /// not in this term); candidates stay quiet.
    fn announce(&mut self, node: &KvNode<FileStorage, Ticket>) {
        let core = node.core();
        let now = (core.role(), core.term(), core.leader());
        if self.0 == Some(now) {
            return;
        }
        match now {
            (Role::Leader, term, _) => say(&format!("{}: leader of term {term}", core.id())),
            (Role::Follower, term, Some(leader)) => say(&format!(
                "{}: follower in term {term}, leader {leader}",
                core.id()
            )),
            _ => return,
        }
        self.0 = Some(now);
    }
}

fn accept(listener: &TcpListener, inputs: &Sender<Input>, me: NodeId, n: u32) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let inputs = inputs.clone();
                thread::spawn(move || read_connection(stream, &inputs, me, n));
            }
            // Out of file descriptors, or a connection reset before it was accepted.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Reads one connection's lines until it closes or sends something unreadable.
fn read_connection(stream: TcpStream, inputs: &Sender<Input>, me: NodeId, n: u32) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    // Dropped when this reader ends, which stops the writer.
    let (_open, closed) = bounded::<()>(0);
    let mut out: Option<Sender<ToClient>> = None;
    let mut line = Vec::new();
    while let Ok(true) = read_line(&mut reader, &mut line) {
        let input = match serde_json::from_slice::<ToServer>(&line) {
            Ok(ToServer::Raft(envelope)) => {
                if envelope.to != me || envelope.from == me || envelope.from.0 >= n {
                    continue;
                }
                Input::Raft(envelope)
            }
            Ok(ToServer::Request { id, request }) => {
                let Some(out) = writer(&mut out, &stream, &closed) else {
                    break;
                };
                Input::Request(Ticket { out, id }, request)
            }
            Ok(ToServer::Status { id }) => {
                let Some(out) = writer(&mut out, &stream, &closed) else {
                    break;
                };
                Input::Status(Ticket { out, id })
            }
            Err(_) => break,
        };
        if inputs.send(input).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// The connection's writer, started on first use.
fn writer(
    out: &mut Option<Sender<ToClient>>,
    stream: &TcpStream,
    closed: &Receiver<()>,
) -> Option<Sender<ToClient>> {
    if out.is_none() {
        let write_half = stream.try_clone().ok()?;
        let _ = write_half.set_write_timeout(Some(WRITE_TIMEOUT));
        let (tx, rx) = bounded(REPLY_QUEUE);
        let closed = closed.clone();
        thread::spawn(move || write_replies(write_half, &rx, &closed));
        *out = Some(tx);
    }
    out.clone()
}

fn write_replies(stream: TcpStream, replies: &Receiver<ToClient>, closed: &Receiver<()>) {
    let mut w = BufWriter::new(stream);
    loop {
        select! {
            recv(replies) -> reply => {
                let Ok(reply) = reply else { return };
                let sent = write_line(&mut w, &reply)
                    .and_then(|()| if replies.is_empty() { w.flush() } else { Ok(()) });
                if sent.is_err() {
                    return;
                }
            }
            // Never sent to: ready once the reader has ended.
            recv(closed) -> _ => return,
        }
    }
}

/// Owns the connection to one other server: connects when there is something to send,
/// drops what comes while it cannot (for [`RECONNECT_PAUSE`] after a failure).
fn send_to_peer(addr: SocketAddr, messages: &Receiver<Envelope>) {
    let mut conn: Option<BufWriter<TcpStream>> = None;
    let mut retry_at = Instant::now();
    for envelope in messages.iter() {
        if conn.is_none() {
            if Instant::now() < retry_at {
                continue;
            }
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                    conn = Some(BufWriter::new(s));
                }
                Err(_) => {
                    retry_at = Instant::now() + RECONNECT_PAUSE;
                    continue;
                }
            }
        }
        let Some(w) = conn.as_mut() else { continue };
        let sent = write_line(w, &ToServer::Raft(envelope)).and_then(|()| {
            if messages.is_empty() {
                w.flush()
            } else {
                Ok(())
            }
        });
        if sent.is_err() {
            conn = None;
            retry_at = Instant::now() + RECONNECT_PAUSE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_peer_queue_drops_instead_of_blocking() {
        let (tx, rx) = bounded(1);
        let peers = vec![None, Some(tx)];
        let envelope = |i| Envelope {
            from: NodeId(0),
            to: NodeId(1),
            message: coordlab_impls::raft::Message::RequestVoteResponse {
                term: i,
                vote_granted: false,
            },
        };
        let outputs = KvOutputs {
            messages: vec![envelope(1), envelope(2)],
            ..KvOutputs::default()
        };
        deliver(outputs, &peers);
        assert_eq!(rx.try_recv().unwrap(), envelope(1));
        assert!(rx.try_recv().is_err());
    }
}
