//! Puts per second on a localhost cluster: three `coordlab kv serve` processes (file
//! storage in the target directory, 10 ms ticks), `C` client sessions on threads of this
//! process, each doing one `put` after another (a new key each time, 16-byte values) for a
//! fixed time, over TCP with the same client code as `coordlab kv put`. First with
//! `--fsync always`, then with a new cluster with `--fsync never`, in the same run.
//!
//! ```sh
//! cargo bench -p coordlab-checks --bench kv           # 3 runs of 3 s per setting
//! cargo bench -p coordlab-checks --bench kv -- 5 5    # 5 runs of 5 s
//! ```
//!
//! Prints, per fsync setting and number of sessions, the median over the runs of the puts
//! acknowledged per second and of the median put latency, and the ratio of `never` to
//! `always`.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use coordlab_checks::kv::{Client, status};
use coordlab_impls::raft::KvOp;

const SESSIONS: [usize; 3] = [1, 4, 16];

/// Three server processes, killed when dropped.
struct Cluster {
    servers: Vec<SocketAddr>,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(fsync: &str) -> Cluster {
        let listeners: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let servers: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        drop(listeners);
        let list = servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // On the disk that holds the target directory (not a tmpfs), so fsync costs what it
        // costs there.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let children = (0..3)
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_coordlab"))
                    .args(["kv", "serve", "--id", &i.to_string(), "--cluster", &list])
                    .args(["--fsync", fsync, "--data"])
                    .arg(dir.path().join(format!("s{i}")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("coordlab kv serve starts")
            })
            .collect();
        let cluster = Cluster {
            servers,
            children,
            _dir: dir,
        };
        let start = Instant::now();
        while !cluster
            .servers
            .iter()
            .any(|&a| status(a, Duration::from_secs(1)).is_ok_and(|s| s.role == "leader"))
        {
            assert!(start.elapsed() < Duration::from_secs(30), "no leader");
            thread::sleep(Duration::from_millis(50));
        }
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One run: `sessions` sessions putting for `time`. Returns puts acknowledged per second
/// and the median latency of a put.
fn run(cluster: &Cluster, sessions: usize, time: Duration, tag: &str) -> (f64, Duration) {
    let start = Instant::now();
    let deadline = start + time;
    let threads: Vec<_> = (0..sessions)
        .map(|t| {
            let servers = cluster.servers.clone();
            let tag = format!("{tag}-{t}");
            thread::spawn(move || {
                let mut client = Client::with_random_session(servers);
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let began = Instant::now();
                    let op = KvOp::Put {
                        key: format!("{tag}-{i}"),
                        value: "0123456789abcdef".to_string(),
                    };
                    i += 1;
                    match client.call(op, Duration::from_secs(10)) {
                        Ok(_) => latencies.push(began.elapsed()),
                        Err(e) => panic!("a put failed: {e:?}"),
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client thread"))
        .collect();
    let elapsed = start.elapsed();
    latencies.sort();
    let median = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or_default();
    (latencies.len() as f64 / elapsed.as_secs_f64(), median)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = numbers.first().copied().unwrap_or(3).max(1);
    let runs = numbers.get(1).copied().unwrap_or(3).max(1) as usize;
    let time = Duration::from_secs(seconds);
    println!("puts/s on 3 `coordlab kv serve` processes, median of {runs} runs of {seconds} s\n");
    println!(
        "{:<8} {:>8} {:>10} {:>14}",
        "fsync", "sessions", "puts/s", "median put"
    );
    let mut results: Vec<(&str, usize, f64)> = Vec::new();
    for fsync in ["always", "never"] {
        let cluster = Cluster::start(fsync);
        // Warm-up: connections made, the leader found, the first fsyncs of new files done.
        run(
            &cluster,
            4,
            Duration::from_secs(1),
            &format!("warm-{fsync}"),
        );
        for sessions in SESSIONS {
            let (rates, lats): (Vec<f64>, Vec<f64>) = (0..runs)
                .map(|r| {
                    let (rate, lat) =
                        run(&cluster, sessions, time, &format!("{fsync}-{sessions}-{r}"));
                    (rate, lat.as_secs_f64())
                })
                .unzip();
            let rate = median(rates);
            let lat = median(lats);
            println!(
                "{fsync:<8} {sessions:>8} {rate:>10.0} {:>11.2} ms",
                lat * 1e3
            );
            results.push((fsync, sessions, rate));
        }
    }
    println!();
    for sessions in SESSIONS {
        let rate = |f: &str| {
            results
                .iter()
                .find(|r| r.0 == f && r.1 == sessions)
                .map_or(f64::NAN, |r| r.2)
        };
        println!(
            "{sessions:>2} sessions: fsync never / always = {:.2}x",
            rate("never") / rate("always")
        );
    }
}
