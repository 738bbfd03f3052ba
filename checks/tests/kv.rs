//! `coordlab kv` end to end: three server processes on loopback ports, writes through the
//! client binary, servers killed with SIGKILL and restarted from their data directories;
//! and the exit codes of bad usage.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use coordlab_impls::raft::{FileStorage, KvOp, KvRequest, Payload, Storage};

const BIN: &str = env!("CARGO_BIN_EXE_coordlab");
/// Generous: the machine has 2 cores shared with builds, and fsync is on.
const CLIENT_TIMEOUT_MS: &str = "20000";
const WAIT: Duration = Duration::from_secs(30);

fn coordlab(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("coordlab runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `n` ports on 127.0.0.1 that were free a moment ago.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Three `coordlab kv serve` processes, killed when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    list: String,
    children: Vec<Option<Child>>,
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        let list = free_ports(n)
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = Cluster {
            dir: tempfile::tempdir().unwrap(),
            list,
            children: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            c.spawn(i);
        }
        c
    }

    fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("s{i}"))
    }

    fn stderr_file(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("s{i}.stderr"))
    }

    /// Starts server `i` on its port and data directory; its stderr is appended to a file.
    fn spawn(&mut self, i: usize) {
        assert!(self.children[i].is_none(), "s{i} is running");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_file(i))
            .unwrap();
        let child = Command::new(BIN)
            .args([
                "kv",
                "serve",
                "--id",
                &i.to_string(),
                "--cluster",
                &self.list,
            ])
            .arg("--data")
            .arg(self.data(i))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("coordlab kv serve starts");
        self.children[i] = Some(child);
    }

    /// SIGKILL (`Child::kill` on Unix), and waits for the process to be gone.
    fn kill(&mut self, i: usize) {
        let mut child = self.children[i].take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Every server's stderr, for failure messages.
    fn logs(&self) -> String {
        let mut s = String::new();
        for i in 0..self.children.len() {
            let log = std::fs::read_to_string(self.stderr_file(i)).unwrap_or_default();
            s += &format!("--- s{i} stderr:\n{log}");
        }
        s
    }

    /// `coordlab kv status --json`: each server's status, `Null` if it did not answer.
    fn statuses(&self) -> Vec<serde_json::Value> {
        let o = coordlab(&["kv", "status", "--json", "--cluster", &self.list]);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "status: {}",
            text(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).expect("a JSON array")
    }

    /// Waits until `pred` holds of the statuses.
    fn wait_until(&self, what: &str, pred: impl Fn(&[serde_json::Value]) -> bool) {
        let start = Instant::now();
        loop {
            let s = self.statuses();
            if pred(&s) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "{what}: not within {WAIT:?}; last statuses {s:?}\n{}",
                self.logs()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// The server that leads in the highest term any server reports, once one does.
    fn leader(&self) -> usize {
        let mut found = None;
        let start = Instant::now();
        while found.is_none() {
            let s = self.statuses();
            let top = s.iter().filter_map(|v| v["term"].as_u64()).max();
            found = s
                .iter()
                .position(|v| v["role"] == "leader" && v["term"].as_u64() == top);
            assert!(
                found.is_some() || start.elapsed() < WAIT,
                "no leader within {WAIT:?}: {s:?}\n{}",
                self.logs()
            );
            sleep(Duration::from_millis(50));
        }
        found.unwrap()
    }

    fn put(&self, key: &str, value: &str) -> Output {
        coordlab(&[
            "kv",
            "put",
            key,
            value,
            "--cluster",
            &self.list,
            "--timeout-ms",
            CLIENT_TIMEOUT_MS,
        ])
    }

    /// `coordlab kv get KEY`'s value, asserting it answered.
    fn get(&self, key: &str) -> String {
        let o = coordlab(&[
            "kv",
            "get",
            key,
            "--cluster",
            &self.list,
            "--timeout-ms",
            CLIENT_TIMEOUT_MS,
        ]);
        assert!(
            o.status.success(),
            "get {key}: {}\n{}",
            text(&o.stderr),
            self.logs()
        );
        assert!(text(&o.stderr).starts_with("answered by s"));
        text(&o.stdout).trim_end_matches('\n').to_string()
    }

    /// Puts `key{i}` = `value{i}` for `range`; returns the acknowledged ones.
    fn puts(&self, range: std::ops::Range<usize>) -> Vec<(String, String)> {
        let mut acked = Vec::new();
        for i in range {
            let (k, v) = (format!("key{i}"), format!("value{i}"));
            let o = self.put(&k, &v);
            match o.status.code() {
                Some(0) => {
                    assert_eq!(text(&o.stdout), "written\n");
                    acked.push((k, v));
                }
                // The outcome is unknown: the key may or may not hold the value.
                Some(1) => assert!(text(&o.stderr).contains("no answer within")),
                _ => panic!("put {k}: {o:?}"),
            }
        }
        acked
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The log in a data directory (the server that used it must be gone).
fn log_of(dir: &Path) -> coordlab_impls::raft::Durable {
    FileStorage::open(dir).unwrap().load().unwrap()
}

/// Acknowledged writes survive SIGKILL of the leader, a restart of it from its data
/// directory, and SIGKILL of the next leader: with two of three servers up the cluster
/// elects a leader and answers, every acknowledged `put` is read back by a later `get`
/// (Raft's State Machine Safety seen from a client, Raft §5.4), and once every server is
/// back their logs are identical (Log Matching, §5.3) and hold every acknowledged write.
#[test]
fn acknowledged_writes_survive_kill_9_and_restarts() {
    let started = Instant::now();
    let mut c = Cluster::start(3);
    let first = c.leader();
    let mut acked = c.puts(0..20);
    assert_eq!(acked.len(), 20, "a healthy cluster answers\n{}", c.logs());

    c.kill(first);
    let more = c.puts(20..40);
    assert_eq!(
        more.len(),
        20,
        "two of three servers elect a leader and answer\n{}",
        c.logs()
    );
    acked.extend(more);
    let second = c.leader();
    assert_ne!(second, first, "s{first} is down");

    c.spawn(first);
    c.wait_until("the restarted server answers", |s| !s[first].is_null());
    // The next leader; the restarted server, which missed the last 20 writes, is left up:
    // the new majority is it and the one server that holds everything.
    let victim = match c.leader() {
        l if l != first => l,
        _ => (0..3).find(|&i| i != first && i != second).unwrap(),
    };
    c.kill(victim);
    for (k, v) in &acked {
        assert_eq!(
            &c.get(k),
            v,
            "acknowledged write {k}={v} lost\n{}",
            c.logs()
        );
    }
    assert_eq!(c.get("never-written"), "(absent)");

    c.spawn(victim);
    c.wait_until(
        "every server holds the same log, all of it committed",
        |s| {
            s.iter().all(|v| {
                !v.is_null()
                    && v["commit"] == v["last-index"]
                    && v["applied"] == v["commit"]
                    && v["last-index"] == s[0]["last-index"]
                    && v["last-term"] == s[0]["last-term"]
            })
        },
    );
    for i in 0..3 {
        c.kill(i);
    }
    let logs: Vec<_> = (0..3).map(|i| log_of(&c.data(i))).collect();
    for i in 1..3 {
        assert_eq!(logs[i].log, logs[0].log, "s{i}'s log differs from s0's");
    }
    let written: BTreeMap<String, String> = logs[0]
        .log
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Data(bytes) => KvRequest::decode(bytes),
            Payload::Noop => None,
        })
        .filter_map(|r| match r.op {
            KvOp::Put { key, value } => Some((key, value)),
            _ => None,
        })
        .collect();
    for (k, v) in &acked {
        assert_eq!(written.get(k), Some(v), "{k} is not in the log");
    }

    // Every server killed at once and restarted: the writes are still there.
    for i in 0..3 {
        c.spawn(i);
    }
    c.leader();
    for (k, v) in acked.iter().step_by(7) {
        assert_eq!(
            &c.get(k),
            v,
            "after a restart of every server\n{}",
            c.logs()
        );
    }
    eprintln!("end to end in {:?}", started.elapsed());
}

/// Asserts exit code 2 with exactly one line on stderr containing every needle.
fn assert_bad_input(o: &Output, needles: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn serve_refuses_a_busy_port_and_creates_nothing() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let other = free_ports(1)[0];
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("s0");
    let list = format!("127.0.0.1:{port},127.0.0.1:{other}");
    let o = Command::new(BIN)
        .args(["kv", "serve", "--id", "0", "--cluster", &list, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_bad_input(
        &o,
        &[
            "--cluster",
            &format!("cannot listen on 127.0.0.1:{port}"),
            "in use",
        ],
    );
    assert!(
        !data.exists(),
        "no data directory for a server that never ran"
    );
}

#[test]
fn serve_refuses_bad_cluster_lists_ids_and_ticks() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let data = data.to_str().unwrap();
    let serve = |id: &str, list: &str, extra: &[&str]| {
        let mut args = vec!["kv", "serve", "--id", id, "--cluster", list, "--data", data];
        args.extend_from_slice(extra);
        coordlab(&args)
    };
    for (list, needle) in [
        ("127.0.0.1:7000,", "address 1 is empty"),
        ("127.0.0.1", "is not an IP:PORT address"),
        ("localhost:7000", "is not an IP:PORT address"),
        ("192.168.1.1:7000", "not a loopback address"),
        ("127.0.0.1:0", "port 0"),
        ("127.0.0.1:7000,127.0.0.1:7000", "listed twice"),
    ] {
        assert_bad_input(
            &serve("0", list, &[]),
            &[&format!("--cluster `{list}`"), needle],
        );
    }
    let list = "127.0.0.1:7000,127.0.0.1:7001";
    assert_bad_input(&serve("2", list, &[]), &["--id 2", "ids 0 to 1"]);
    assert_bad_input(
        &serve("0", list, &["--tick-ms", "0"]),
        &["--tick-ms 0", "expected 1 to 10000"],
    );
    assert_bad_input(
        &serve("0", list, &["--fsync", "sometimes"]),
        &["--fsync", "sometimes"],
    );
    assert!(!Path::new(data).exists());
    // The clients read --cluster the same way.
    assert_bad_input(
        &coordlab(&["kv", "get", "k", "--cluster", "10.0.0.1:7000"]),
        &["--cluster `10.0.0.1:7000`", "not a loopback address"],
    );
    assert_bad_input(
        &coordlab(&["kv", "cas", "k", "new", "--cluster", list]),
        &["--expect", "--absent"],
    );
    assert_bad_input(
        &coordlab(&[
            "kv",
            "put",
            "k",
            "v",
            "--cluster",
            list,
            "--timeout-ms",
            "0",
        ]),
        &["--timeout-ms 0"],
    );
}

#[test]
fn serve_refuses_a_data_directory_another_server_holds() {
    let ports = free_ports(2);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("s0");
    let list = format!("127.0.0.1:{}", ports[0]);
    let stderr = File::create(tmp.path().join("first.stderr")).unwrap();
    let mut first = Command::new(BIN)
        .args(["kv", "serve", "--id", "0", "--cluster", &list, "--data"])
        .arg(&data)
        .stderr(stderr)
        .spawn()
        .unwrap();
    // A one-server cluster: it is up once it answers.
    let start = Instant::now();
    while !coordlab(&["kv", "status", "--cluster", &list])
        .status
        .success()
    {
        assert!(start.elapsed() < WAIT, "the first server did not start");
        sleep(Duration::from_millis(50));
    }
    let other = format!("127.0.0.1:{}", ports[1]);
    let o = Command::new(BIN)
        .args(["kv", "serve", "--id", "0", "--cluster", &other, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert_bad_input(&o, &["--data", "locked"]);
}

#[test]
fn a_client_with_no_server_gives_up_with_exit_1() {
    let list = format!("127.0.0.1:{}", free_ports(1)[0]);
    let start = Instant::now();
    let o = coordlab(&[
        "kv",
        "put",
        "k",
        "v",
        "--cluster",
        &list,
        "--timeout-ms",
        "300",
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no answer within 300 ms; the write may or may not take effect"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    let o = coordlab(&["kv", "status", "--cluster", &list, "--timeout-ms", "300"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("s0 127.0.0.1:"));
    assert!(text(&o.stdout).contains("no answer"));
}
