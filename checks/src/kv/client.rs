//! The client: a session that finds the leader and retries (`kv put`, `kv get`, `kv cas`),
//! and the status query (`kv status`).

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use coordlab_impls::raft::{KvError, KvOp, KvOutput, KvRequest, NodeId};

use super::{
    ClientArgs, MAX_TIMEOUT_MS, Status, ToClient, ToServer, check_ms, parse_cluster, read_line,
    say, show_output, write_line,
};
use crate::Fault;

/// How long one attempt waits for an answer before the client asks the next server.
const PATIENCE: Duration = Duration::from_secs(1);
/// The pause after a refusal other than a hint, or a server that cannot be reached: no busy
/// loop while the cluster has no leader.
const PAUSE: Duration = Duration::from_millis(20);

/// Why a call gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No answer within the timeout: the request may or may not take effect.
    Timeout,
    /// The store refused the request for good ([`KvError::Stale`]).
    Refused(KvError),
}

/// A client session over TCP: one session id, sequence numbers from 1, one call at a time.
/// Finds the leader as `coordlab_impls::raft::Client` does: it asks each server in turn,
/// follows a `not-leader` hint at once, pauses after any other refusal or an unreachable
/// server, moves on after 1 s without an answer, and sends a request's retries
/// with the same sequence number, so a write is applied once wherever it lands.
pub struct Client {
    servers: Vec<SocketAddr>,
    session: u64,
    seq: u64,
    next_id: u64,
    guess: usize,
    conn: Option<Conn>,
}

struct Conn {
    server: usize,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

/// One attempt's outcome.
enum Attempt {
    Answer(KvOutput),
    Refused(KvError),
    /// No answer in time, or the connection failed.
    Lost,
}

impl Client {
    /// A session with id `session` (nonzero, unique among the cluster's clients) on the
    /// servers at `servers`, in id order.
    pub fn new(servers: Vec<SocketAddr>, session: u64) -> Client {
        Client {
            servers,
            session,
            seq: 0,
            next_id: 1,
            guess: 0,
            conn: None,
        }
    }

    /// A session with an id drawn from the clock and the process id.
    pub fn with_random_session(servers: Vec<SocketAddr>) -> Client {
        Client::new(servers, super::entropy())
    }

    /// The session id.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// Performs `op`, trying for at most `timeout`; returns the answer and the server that
    /// gave it.
    pub fn call(&mut self, op: KvOp, timeout: Duration) -> Result<(KvOutput, NodeId), CallError> {
        self.seq += 1;
        let request = KvRequest {
            client: self.session,
            seq: self.seq,
            op,
        };
        let deadline = Instant::now() + timeout;
        // Any attempt of this request from here on: a late answer to an earlier one is its
        // answer too.
        let first_id = self.next_id;
        let n = self.servers.len();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(CallError::Timeout);
            }
            let server = self.guess;
            let id = self.next_id;
            self.next_id += 1;
            let until = deadline.min(now + PATIENCE);
            let pause = match self.attempt(server, id, first_id, &request, until) {
                Attempt::Answer(output) => return Ok((output, NodeId(server as u32))),
                Attempt::Refused(KvError::NotLeader { leader }) => {
                    match leader.filter(|l| (l.0 as usize) < n && l.0 as usize != server) {
                        Some(l) => {
                            self.guess = l.0 as usize;
                            false
                        }
                        None => {
                            self.guess = (server + 1) % n;
                            true
                        }
                    }
                }
                Attempt::Refused(KvError::Retry) => true,
                Attempt::Refused(e) => return Err(CallError::Refused(e)),
                Attempt::Lost => {
                    self.conn = None;
                    self.guess = (server + 1) % n;
                    true
                }
            };
            if pause {
                std::thread::sleep(PAUSE.min(deadline.saturating_duration_since(Instant::now())));
            }
        }
    }

    /// Sends the request to `server` as attempt `id` and waits until `until` for its answer.
    fn attempt(
        &mut self,
        server: usize,
        id: u64,
        first_id: u64,
        request: &KvRequest,
        until: Instant,
    ) -> Attempt {
        if self.conn.as_ref().is_none_or(|c| c.server != server) {
            self.conn = None;
            let wait = until.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Attempt::Lost;
            }
            let Ok(stream) = TcpStream::connect_timeout(&self.servers[server], wait) else {
                return Attempt::Lost;
            };
            let _ = stream.set_nodelay(true);
            let Ok(read_half) = stream.try_clone() else {
                return Attempt::Lost;
            };
            self.conn = Some(Conn {
                server,
                stream,
                reader: BufReader::new(read_half),
            });
        }
        let Some(conn) = self.conn.as_mut() else {
            return Attempt::Lost;
        };
        let mut line = Vec::with_capacity(128);
        let sent = write_line(
            &mut line,
            &ToServer::Request {
                id,
                request: request.clone(),
            },
        )
        .and_then(|()| conn.stream.write_all(&line));
        if sent.is_err() {
            return Attempt::Lost;
        }
        loop {
            let wait = until.saturating_duration_since(Instant::now());
            if wait.is_zero() || conn.stream.set_read_timeout(Some(wait)).is_err() {
                return Attempt::Lost;
            }
            match read_line(&mut conn.reader, &mut line) {
                Ok(true) => {}
                Ok(false) | Err(_) => return Attempt::Lost,
            }
            let Ok(ToClient::Reply { id: got, reply }) = serde_json::from_slice(&line) else {
                return Attempt::Lost;
            };
            match reply {
                Ok(output) if got >= first_id && got <= id => return Attempt::Answer(output),
                Err(e) if got == id => return Attempt::Refused(e),
                // An earlier request's, or an earlier attempt's refusal.
                _ => {}
            }
        }
    }
}

/// Asks the server at `addr` for its [`Status`], waiting at most `timeout`.
pub fn status(addr: SocketAddr, timeout: Duration) -> io::Result<Status> {
    let deadline = Instant::now() + timeout;
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    let _ = stream.set_nodelay(true);
    let mut line = Vec::new();
    write_line(&mut line, &ToServer::Status { id: 1 })?;
    (&stream).write_all(&line)?;
    let left = deadline.saturating_duration_since(Instant::now());
    stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
    let mut reader = BufReader::new(&stream);
    if !read_line(&mut reader, &mut line)? {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed without an answer",
        ));
    }
    match serde_json::from_slice(&line)? {
        ToClient::Status { id: 1, status } => Ok(status),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "answered something other than its status",
        )),
    }
}

/// `kv put`, `kv get`, `kv cas`.
/// Writes to stdout: a closed pipe ends the output quietly, any other failure is a fault
/// (the answer would be lost).
fn print(text: &str) -> Result<(), Fault> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Fault::usage(format!("stdout: cannot write: {e}"))),
    }
}

pub(super) fn cli(op: KvOp, args: &ClientArgs) -> Result<ExitCode, Fault> {
    let servers = parse_cluster(&args.cluster)?;
    let timeout = check_ms("--timeout-ms", args.timeout_ms, MAX_TIMEOUT_MS)?;
    let name = match op {
        KvOp::Put { .. } => "put",
        KvOp::Get { .. } => "get",
        KvOp::Cas { .. } => "cas",
    };
    let mut client = Client::with_random_session(servers.clone());
    match client.call(op, timeout) {
        Ok((output, server)) => {
            say(&format!(
                "answered by {server} ({})",
                servers[server.0 as usize]
            ));
            print(&format!("{}\n", show_output(&output)))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(CallError::Timeout) => {
            let outcome = match name {
                "get" => "nothing was read",
                _ => "the write may or may not take effect",
            };
            say(&format!(
                "coordlab: kv {name}: no answer within {} ms; {outcome}",
                args.timeout_ms
            ));
            Ok(ExitCode::from(1))
        }
        Err(CallError::Refused(e)) => {
            say(&format!("coordlab: kv {name}: refused: {e}"));
            Ok(ExitCode::from(1))
        }
    }
}

/// `kv status`.
pub(super) fn status_cli(cluster: &str, json: bool, timeout_ms: u64) -> Result<ExitCode, Fault> {
    let servers = parse_cluster(cluster)?;
    let timeout = check_ms("--timeout-ms", timeout_ms, MAX_TIMEOUT_MS)?;
    let answers: Vec<io::Result<Status>> = servers.iter().map(|&a| status(a, timeout)).collect();
    let mut text = String::new();
    if json {
        let values: Vec<Option<&Status>> = answers.iter().map(|a| a.as_ref().ok()).collect();
        text = serde_json::to_string(&values).expect("statuses serialize") + "\n";
    } else {
        for (i, (addr, answer)) in servers.iter().zip(&answers).enumerate() {
            text += &match answer {
                Ok(s) if s.server as usize != i => format!(
                    "s{i} {addr}: answers as s{}: its --cluster lists the servers in another order\n",
                    s.server
                ),
                Ok(s) => format!(
                    "s{i} {addr}: {} of term {}{}, commit {}, applied {}, log up to {} (term {})\n",
                    s.role,
                    s.term,
                    match s.leader {
                        _ if s.role == "leader" => String::new(),
                        Some(l) => format!(" (leader s{l})"),
                        None => " (leader unknown)".to_string(),
                    },
                    s.commit,
                    s.applied,
                    s.last_index,
                    s.last_term
                ),
                Err(e) => format!("s{i} {addr}: no answer: {e}\n"),
            };
        }
    }
    print(&text)?;
    let consistent =
        |(i, a): (usize, &io::Result<Status>)| a.as_ref().is_ok_and(|s| s.server as usize == i);
    Ok(if answers.iter().enumerate().all(consistent) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
