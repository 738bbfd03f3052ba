//! Malformed input at every command of `coordlab`: mutated counterexample traces and
//! manifests, out-of-range and malformed option values, unusable files, a closed stdout.
//!
//! The contract every run must keep, whatever its input ([`Case::problems`]):
//! - it ends with exit code 0, 1 or 2 (never 101, never another code, never a signal — except
//!   SIGPIPE when its stdout is closed, see below), within [`DEADLINE`];
//! - stderr never contains `panicked` or `RUST_BACKTRACE`;
//! - on exit code 2, stderr is exactly one line, and it names the file or the option at
//!   fault (it contains one of the command's arguments);
//! - no `*.tmp` file is left in an `--out` directory or beside a `--junit` file, and a run
//!   that exits 2 leaves its `--out` and `--junit` targets as they were.
//!
//! A closed stdout (`coordlab check | head -1`) is a normal way to stop reading
//! ([`closed_stdout_is_a_normal_way_to_stop_reading`]): the run must end as it would have
//! with its output read in full (the same exit code) or be ended by SIGPIPE, like any Unix
//! filter, and say nothing on stderr.
//!
//! The property tests mutate the committed model counterexamples and manifests
//! structurally; the tables after them run each known way to a panic from the command line
//! on its own (the shrunk inputs of the property tests among them), so that a regression
//! names itself.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;

#[path = "support/run.rs"]
mod run;
use run::root;

// ---------------------------------------------------------------------------------------
// Running the binary and the contract
// ---------------------------------------------------------------------------------------

/// The longest any one run may take: every run here is small (the checks have a
/// `--timeout`, the walks few seeds), so a run still going after this hangs.
const DEADLINE: Duration = Duration::from_secs(60);

/// Where the run's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stdout {
    /// A pipe read to the end.
    Read,
    /// A pipe whose read end is closed before the run starts: every write fails (EPIPE), as
    /// after `| head -1` has read its line. Closed before, not after, so that the run
    /// cannot write its whole output into the pipe buffer first.
    Closed,
}

/// One run of `coordlab` and what it may do.
struct Case {
    args: Vec<OsString>,
    cwd: PathBuf,
    stdout: Stdout,
    /// Files and directories the run may write (`--out`, `--junit`).
    outputs: Vec<PathBuf>,
    /// `explore` that binds its port serves until killed: it is killed once it has printed
    /// its address and the address accepts a connection.
    serves: bool,
    /// Still running at `deadline` is acceptable (the run is killed): a closed-stdout
    /// `explore`, or a walk count the user asked to be huge.
    may_run_on: bool,
    deadline: Duration,
}

/// What a run did.
struct Run {
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Killed at the deadline.
    timed_out: bool,
    /// `explore` printed this port, served on it, and was killed.
    served: Option<u16>,
    elapsed: Duration,
}

impl Case {
    fn new<S: AsRef<OsStr>>(cwd: &Path, args: &[S]) -> Self {
        Case {
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            cwd: cwd.to_path_buf(),
            stdout: Stdout::Read,
            outputs: Vec::new(),
            serves: false,
            may_run_on: false,
            deadline: DEADLINE,
        }
    }

    fn outputs<P: AsRef<Path>>(mut self, paths: &[P]) -> Self {
        self.outputs = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self
    }

    fn closed_stdout(mut self) -> Self {
        self.stdout = Stdout::Closed;
        self
    }

    fn serves(mut self) -> Self {
        self.serves = true;
        self
    }

    fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    fn may_run_on(mut self, deadline: Duration) -> Self {
        self.may_run_on = true;
        self.deadline(deadline)
    }

    /// The command as a shell line, for messages.
    fn line(&self) -> String {
        let mut s = String::from("coordlab");
        for a in &self.args {
            let a = a.to_string_lossy();
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-=+:[]".contains(c))
            {
                s.push(' ');
                s.push_str(&a);
            } else {
                s.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
            }
        }
        if self.stdout == Stdout::Closed {
            s.push_str(" >&- (closed stdout)");
        }
        s
    }

    /// Runs the case; the outputs are snapshotted before so that [`Case::problems`] can
    /// tell what the run wrote.
    fn run(&self) -> (Run, Snapshot) {
        let before = Snapshot::of(&self.outputs);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coordlab"));
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            // The short panic message: its first line names the source location.
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        match self.stdout {
            Stdout::Read => {
                cmd.stdout(Stdio::piped());
            }
            Stdout::Closed => {
                let (reader, writer) = std::io::pipe().expect("a pipe");
                drop(reader);
                cmd.stdout(writer);
            }
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("coordlab starts");
        // The parent's copy of a closed-stdout pipe's write end goes with `cmd`.
        drop(cmd);
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let drain = |pipe: Option<Box<dyn Read + Send>>, buf: &Arc<Mutex<Vec<u8>>>| {
            let buf = Arc::clone(buf);
            std::thread::spawn(move || {
                if let Some(mut pipe) = pipe {
                    let mut chunk = [0u8; 8192];
                    while let Ok(n) = pipe.read(&mut chunk) {
                        if n == 0 {
                            break;
                        }
                        buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                    }
                }
            })
        };
        let readers = [
            drain(
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                &out,
            ),
            drain(
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                &err,
            ),
        ];
        let mut timed_out = false;
        let mut served = None;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if self.serves
                && let Some(port) = explorer_port(&out.lock().unwrap())
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                served = Some(port);
            }
            if served.is_some() || started.elapsed() > self.deadline {
                timed_out = served.is_none();
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = started.elapsed();
        for r in readers {
            r.join().unwrap();
        }
        let run = Run {
            status,
            stdout: std::mem::take(&mut *out.lock().unwrap()),
            stderr: std::mem::take(&mut *err.lock().unwrap()),
            timed_out,
            served,
            elapsed,
        };
        (run, before)
    }

    /// Everything the run did that breaks the contract (see the module doc), each as one
    /// line naming the command.
    fn problems(&self, run: &Run, before: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        let mut fault = |what: String| out.push(format!("`{}`: {what}", self.line()));
        let err = String::from_utf8_lossy(&run.stderr);
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            fault(format!("panics or aborts: {}", panic_line(&err)));
        }
        let code = run.status.and_then(|s| s.code());
        if run.timed_out && !self.may_run_on {
            fault(format!(
                "still running after {:?}: killed",
                self.deadline.min(run.elapsed)
            ));
        }
        if run.served.is_some() && !self.serves {
            fault("served".into());
        }
        if let Some(status) = run.status {
            match (status.code(), signal(&status)) {
                (Some(0..=2), _) => {}
                (Some(101), _) => {} // reported as a panic above
                (Some(c), _) => fault(format!("exit code {c}")),
                (None, Some(SIGPIPE)) if self.stdout == Stdout::Closed => {}
                (None, s) => fault(format!("killed by signal {s:?}")),
            }
        }
        if code == Some(2) {
            let lines: Vec<&str> = err.trim_end().lines().collect();
            if lines.len() != 1 {
                fault(format!(
                    "exit 2 with {} lines on stderr, not one: {}",
                    lines.len(),
                    err.trim_end().replace('\n', "⏎")
                ));
            } else if !self.names(lines[0]) {
                fault(format!(
                    "exit 2, but the line names neither the file nor the option: {}",
                    lines[0]
                ));
            }
        }
        let after = Snapshot::of(&self.outputs);
        for tmp in after.files.keys().filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".tmp"))
        }) {
            fault(format!("left a temporary file: {}", tmp.display()));
        }
        if code == Some(2) && after != *before {
            let changed: Vec<String> = after
                .files
                .iter()
                .filter(|(p, b)| before.files.get(*p) != Some(b))
                .map(|(p, _)| p.display().to_string())
                .collect();
            fault(format!(
                "exit 2, but wrote outputs: {}",
                if changed.is_empty() {
                    "(a directory)".to_string()
                } else {
                    changed.join(", ")
                }
            ));
        }
        out
    }

    /// Whether the one line of an exit-2 run names the file or the option at fault: it
    /// contains one of the command's arguments (its file, an option, the value at fault),
    /// either side of `--option=value`, a directory of a path argument below the working
    /// directory (the one that cannot be made), quotes (`` `…` ``) a part of an argument,
    /// as `` unknown protocol `paxos` `` does for `paxos/correct`, or names a positional
    /// argument by its placeholder (`'<FILE>'`). An argument shorter than two characters
    /// (`/`, the empty string) counts only when quoted.
    fn names(&self, line: &str) -> bool {
        let args: Vec<String> = self
            .args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut names = Vec::new();
        for a in &args {
            names.push(a.clone());
            if a.starts_with("--")
                && let Some((opt, value)) = a.split_once('=')
            {
                names.push(opt.to_string());
                names.push(value.to_string());
            }
            let path = Path::new(a);
            if path.is_absolute() {
                for dir in path.ancestors().skip(1) {
                    if self.cwd.starts_with(dir) {
                        break;
                    }
                    names.push(dir.to_string_lossy().into_owned());
                }
            }
        }
        let named = |n: &String| {
            if n.chars().count() >= 2 {
                line.contains(n.as_str())
            } else {
                line.contains(&format!("`{n}`"))
            }
        };
        let quoted = line.split('`').skip(1).step_by(2);
        names.iter().any(named)
            || line.contains("'<")
            || quoted
                .clone()
                .any(|q| q.is_empty() && args.iter().any(|a| a.chars().count() < 2))
            || quoted
                .into_iter()
                .any(|q| q.trim().chars().count() >= 2 && args.iter().any(|a| a.contains(q.trim())))
    }

    /// Runs the case and returns its problems along with the run.
    fn check(&self) -> (Run, Vec<String>) {
        let (run, before) = self.run();
        let problems = self.problems(&run, &before);
        (run, problems)
    }
}

const SIGPIPE: i32 = 13;

fn signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// The line of a panic message that names the source location, and the message after it.
fn panic_line(stderr: &str) -> String {
    let mut lines = stderr.lines();
    let mut out = String::new();
    while let Some(l) = lines.next() {
        if l.contains("panicked") {
            out.push_str(l.trim());
            if let Some(next) = lines.next() {
                out.push(' ');
                out.push_str(next.trim());
            }
            return out;
        }
    }
    stderr.lines().next().unwrap_or("").to_string()
}

/// The port of `Explorer for … at http://127.0.0.1:PORT/`, once that line is complete.
fn explorer_port(stdout: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().next().filter(|_| text.contains('\n'))?;
    let rest = line.split("http://127.0.0.1:").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

/// The files below some paths, with their bytes (empty directories by name).
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Snapshot {
    fn of(paths: &[PathBuf]) -> Self {
        fn walk(path: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() => {
                    out.insert(path.join(""), Vec::new());
                    if let Ok(entries) = std::fs::read_dir(path) {
                        for e in entries.flatten() {
                            walk(&e.path(), out);
                        }
                    }
                }
                Ok(_) => {
                    out.insert(path.to_path_buf(), std::fs::read(path).unwrap_or_default());
                }
                Err(_) => {}
            }
        }
        let mut files = BTreeMap::new();
        for p in paths {
            walk(p, &mut files);
            // A `--junit` file is written beside itself: its directory's temporaries count.
            if let Some(dir) = p.parent()
                && dir.is_dir()
                && !p.is_dir()
                && let Ok(entries) = std::fs::read_dir(dir)
            {
                for e in entries.flatten() {
                    let path = e.path();
                    if path.to_string_lossy().ends_with(".tmp") {
                        files.insert(path, Vec::new());
                    }
                }
            }
        }
        Snapshot { files }
    }
}

fn stdout_of(run: &Run) -> String {
    String::from_utf8_lossy(&run.stdout).into_owned()
}

fn stderr_of(run: &Run) -> String {
    String::from_utf8_lossy(&run.stderr).into_owned()
}

/// A table of runs: every case runs, and the test fails once at the end listing every
/// problem, so that one finding does not hide the next.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    /// Runs `case`, checks the contract and `expect`; returns the run.
    fn run(&mut self, name: &str, case: &Case, expect: Expect) -> Run {
        let (run, problems) = case.check();
        for p in problems {
            self.0.push(format!("[{name}] {p}"));
        }
        let code = run.status.and_then(|s| s.code());
        let panicked = stderr_of(&run).contains("panicked");
        if let Some(codes) = expect.codes
            && !panicked
            && !run.timed_out
            && run.served.is_none()
            && !code.is_some_and(|c| codes.contains(&c))
            && !(case.stdout == Stdout::Closed
                && run.status.and_then(|s| signal(&s)) == Some(SIGPIPE))
        {
            self.0.push(format!(
                "[{name}] `{}`: exit {:?}, expected one of {codes:?}; stderr: {}",
                case.line(),
                code,
                panic_line(&stderr_of(&run))
            ));
        }
        if let Some(needle) = &expect.needle
            && code == Some(2)
            && !stderr_of(&run).contains(needle.as_str())
        {
            self.0.push(format!(
                "[{name}] `{}`: stderr does not name `{needle}`: {}",
                case.line(),
                stderr_of(&run).trim_end()
            ));
        }
        run
    }

    fn push(&mut self, name: &str, what: String) {
        self.0.push(format!("[{name}] {what}"));
    }

    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} problems:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// What a table case expects beyond the contract.
#[derive(Clone, Default)]
struct Expect {
    /// The exit code must be one of these.
    codes: Option<&'static [i32]>,
    /// On exit 2, stderr must contain this.
    needle: Option<String>,
}

/// Exit 2, naming `needle`.
fn bad(needle: impl Into<String>) -> Expect {
    Expect {
        codes: Some(&[2]),
        needle: Some(needle.into()),
    }
}

/// Only the contract.
const ANY: Expect = Expect {
    codes: None,
    needle: None,
};

fn codes(codes: &'static [i32]) -> Expect {
    Expect {
        codes: Some(codes),
        needle: None,
    }
}

// ---------------------------------------------------------------------------------------
// The committed inputs
// ---------------------------------------------------------------------------------------

/// A committed counterexample: its path below `counterexamples/` and its JSON.
struct Trace {
    rel: String,
    protocol: String,
    variant: String,
    json: Value,
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Every committed counterexample, model traces and shuttle schedules, sorted by path.
static COMMITTED: LazyLock<Vec<Trace>> = LazyLock::new(|| {
    let base = root().join("counterexamples");
    let mut files = Vec::new();
    json_files(&base, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let json: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let mut parts = rel.split('/');
            Trace {
                protocol: parts.next().unwrap().to_string(),
                variant: parts.next().unwrap().to_string(),
                rel,
                json,
            }
        })
        .collect()
});

/// The model counterexamples (the `impl-*` folders hold shuttle schedules of the
/// implementations).
fn model_traces() -> Vec<&'static Trace> {
    let out: Vec<&Trace> = COMMITTED
        .iter()
        .filter(|t| !t.variant.starts_with("impl-"))
        .collect();
    assert!(out.len() >= 6, "the committed model traces: {}", out.len());
    out
}

fn shuttle_schedules() -> Vec<&'static Trace> {
    COMMITTED
        .iter()
        .filter(|t| t.variant.starts_with("impl-"))
        .collect()
}

fn trace(rel: &str) -> &'static Trace {
    COMMITTED
        .iter()
        .find(|t| t.rel == rel)
        .unwrap_or_else(|| panic!("no committed counterexamples/{rel}"))
}

/// Every `protocol/variant` with a committed model trace, and each protocol's `correct`.
fn known_targets() -> Vec<String> {
    let mut out: Vec<String> = model_traces()
        .iter()
        .flat_map(|t| {
            [
                format!("{}/{}", t.protocol, t.variant),
                format!("{}/correct", t.protocol),
            ]
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The `--on` targets a mutated trace is replayed on: every known variant, and malformed
/// or unknown ones.
fn on_targets() -> Vec<String> {
    let mut out = known_targets();
    out.extend(
        [
            "raft/correct",
            "queue",
            "queue/",
            "/correct",
            "/",
            "",
            "queue/correct/extra",
            "queue/bogus",
            "election/stale-receipt-delete",
            "queue/correct[immediate-retry]",
        ]
        .map(String::from),
    );
    out
}

const MANIFESTS: [&str; 2] = ["election.toml", "queue.toml"];

fn manifest_text(name: &str) -> String {
    std::fs::read_to_string(root().join("checks/manifests").join(name)).unwrap()
}

// ---------------------------------------------------------------------------------------
// Mutating traces
// ---------------------------------------------------------------------------------------

/// Which part of a trace an edit picks its node from.
#[derive(Clone, Copy, Debug)]
enum Region {
    /// The top-level object and its fields.
    Top,
    /// A step object.
    Step,
    /// Inside a step's state.
    State,
    /// Inside a step's action.
    Action,
    /// Inside the model configuration.
    Config,
    Anywhere,
}

/// States and actions weigh most: they are what a person edits to ask "what if", and
/// what the models' renderings index into.
fn region() -> impl Strategy<Value = Region> {
    prop_oneof![
        1 => Just(Region::Top),
        1 => Just(Region::Step),
        3 => Just(Region::State),
        4 => Just(Region::Action),
        1 => Just(Region::Config),
        1 => Just(Region::Anywhere),
    ]
}

impl Region {
    fn holds(self, ptr: &str) -> bool {
        let segs: Vec<&str> = ptr.split('/').skip(1).collect();
        let in_step = |part: &str| segs.len() >= 3 && segs[0] == "steps" && segs[2] == part;
        match self {
            Region::Top => segs.len() <= 1,
            Region::Step => segs.len() == 2 && segs[0] == "steps",
            Region::State => in_step("state"),
            Region::Action => in_step("action"),
            Region::Config => segs.first() == Some(&"config"),
            Region::Anywhere => true,
        }
    }
}

/// Number literals out of the range of the fields they replace (u8 indices and counters,
/// u32 format, usize cycle start), and non-integers.
const NUMBERS: &[&str] = &[
    "-1",
    "255",
    "256",
    "65536",
    "4294967296",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1e308",
    "-1e308",
    "1e400",
    "0.5",
    "1.0",
    "-0",
    "1e-320",
    "3",
    "7",
];

/// Values of the wrong JSON type.
const WRONG_TYPES: &[&str] = &[
    "\"7\"",
    "null",
    "[]",
    "{}",
    "true",
    "[1, 2]",
    "{\"x\": 1}",
    "\"\"",
    "\"idle\"",
    "{\"send\": {\"msg\": 0}}",
];

/// Ways to deliver bytes that are not a well-formed UTF-8 JSON text.
const INSERTS: &[&[u8]] = &[
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\0",
    b"\xf4\x90\x80\x80",
    b"\\u0000",
    b"\\ud800",
];

/// How deep [`Edit::Nest`] nests: around serde_json's recursion limit (128), and far
/// beyond it.
const DEPTHS: &[usize] = &[1, 2, 127, 128, 129, 100_000];

/// Top-level fields [`Edit::Meta`] sets, with values chosen in [`meta_values`].
const META: &[&str] = &[
    "protocol",
    "variant",
    "property",
    "kind",
    "format",
    "cycle_start",
    "command",
];

/// Which part of a step [`Edit::Splice`] takes from another trace.
#[derive(Clone, Copy, Debug)]
enum Part {
    Step,
    State,
    Action,
    /// The other trace's configuration (bounds).
    Config,
}

/// One structural edit of a trace. Indices are taken modulo what they index, so every
/// edit applies to every trace, and shrinking moves towards the first of each.
#[derive(Clone, Debug)]
enum Edit {
    /// Deletes the `key`-th field of the `at`-th object of `region`.
    DeleteField {
        region: Region,
        at: usize,
        key: usize,
    },
    /// Replaces the `at`-th number of `region` with `NUMBERS[lit]`.
    Number {
        region: Region,
        at: usize,
        lit: usize,
    },
    /// Replaces the `at`-th value of `region` with `WRONG_TYPES[lit]`.
    WrongType {
        region: Region,
        at: usize,
        lit: usize,
    },
    /// Step `i` takes step `j`'s action.
    CopyAction {
        i: usize,
        j: usize,
    },
    SwapSteps {
        i: usize,
        j: usize,
    },
    DuplicateStep {
        i: usize,
    },
    RemoveStep {
        i: usize,
    },
    EmptySteps,
    /// Step `dst` takes `part` of step `src` of another committed trace (another variant,
    /// or another protocol).
    Splice {
        from: String,
        part: Part,
        src: usize,
        dst: usize,
    },
    /// Sets top-level field `META[field]` to the `value`-th of [`meta_values`].
    Meta {
        field: usize,
        value: usize,
    },
    /// Wraps the `at`-th value in `DEPTHS[depth]` arrays.
    Nest {
        at: usize,
        depth: usize,
    },
}

/// Edits of the bytes after the structural ones.
#[derive(Clone, Debug)]
enum ByteEdit {
    /// Keeps the first `frac / 65536` of the bytes.
    Truncate { frac: u16 },
    /// Inserts `INSERTS[what]` at `frac / 65536` of the way through.
    Insert { frac: u16, what: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let idx = || 0..64usize;
    let rels: Vec<String> = model_traces().iter().map(|t| t.rel.clone()).collect();
    prop_oneof![
        2 => (region(), idx(), idx()).prop_map(|(region, at, key)| Edit::DeleteField {
            region,
            at,
            key
        }),
        4 => (region(), idx(), 0..NUMBERS.len()).prop_map(|(region, at, lit)| Edit::Number {
            region,
            at,
            lit
        }),
        2 => (region(), idx(), 0..WRONG_TYPES.len()).prop_map(|(region, at, lit)| Edit::WrongType {
            region,
            at,
            lit
        }),
        2 => (idx(), idx()).prop_map(|(i, j)| Edit::CopyAction { i, j }),
        1 => (idx(), idx()).prop_map(|(i, j)| Edit::SwapSteps { i, j }),
        1 => idx().prop_map(|i| Edit::DuplicateStep { i }),
        1 => idx().prop_map(|i| Edit::RemoveStep { i }),
        1 => Just(Edit::EmptySteps),
        3 => (
            prop::sample::select(rels),
            prop_oneof![
                Just(Part::Step),
                Just(Part::State),
                Just(Part::Action),
                Just(Part::Config)
            ],
            idx(),
            idx()
        )
            .prop_map(|(from, part, src, dst)| Edit::Splice {
                from,
                part,
                src,
                dst
            }),
        2 => (0..META.len(), idx()).prop_map(|(field, value)| Edit::Meta { field, value }),
        1 => (idx(), 0..DEPTHS.len()).prop_map(|(at, depth)| Edit::Nest { at, depth }),
    ]
}

fn byte_edit() -> impl Strategy<Value = Option<ByteEdit>> {
    prop_oneof![
        6 => Just(None),
        1 => any::<u16>().prop_map(|frac| Some(ByteEdit::Truncate { frac })),
        1 => (any::<u16>(), 0..INSERTS.len())
            .prop_map(|(frac, what)| Some(ByteEdit::Insert { frac, what })),
    ]
}

/// JSON pointers of every node of `v`, in document order.
fn pointers(v: &Value) -> Vec<String> {
    fn walk(v: &Value, ptr: &mut String, out: &mut Vec<String>) {
        out.push(ptr.clone());
        let len = ptr.len();
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    ptr.push('/');
                    ptr.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(c, ptr, out);
                    ptr.truncate(len);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    ptr.push_str(&format!("/{i}"));
                    walk(c, ptr, out);
                    ptr.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut String::new(), &mut out);
    out
}

/// A trace being edited: its JSON, and raw literals to put in place of marker strings
/// (numbers and nestings serde_json's `Value` cannot hold).
struct Draft {
    json: Value,
    raw: Vec<String>,
}

impl Draft {
    /// A marker string that [`Draft::bytes`] replaces with `text`.
    fn raw(&mut self, text: String) -> Value {
        self.raw.push(text);
        Value::String(format!("@@raw{}@@", self.raw.len() - 1))
    }

    /// The `at`-th node of `region` that `want` accepts.
    fn pick(&self, region: Region, at: usize, want: fn(&Value) -> bool) -> Option<String> {
        let found: Vec<String> = pointers(&self.json)
            .into_iter()
            .filter(|p| region.holds(p) && self.json.pointer(p).is_some_and(want))
            .collect();
        (!found.is_empty()).then(|| found[at % found.len()].clone())
    }

    fn steps(&mut self) -> Option<&mut Vec<Value>> {
        self.json.get_mut("steps")?.as_array_mut()
    }

    fn apply(&mut self, edit: &Edit) {
        match edit {
            Edit::DeleteField { region, at, key } => {
                if let Some(p) = self.pick(*region, *at, Value::is_object)
                    && let Some(Value::Object(m)) = self.json.pointer_mut(&p)
                    && !m.is_empty()
                {
                    let k = m.keys().nth(key % m.len()).unwrap().clone();
                    m.remove(&k);
                }
            }
            Edit::Number { region, at, lit } => {
                if let Some(p) = self.pick(*region, *at, Value::is_number) {
                    let v = self.raw(NUMBERS[*lit].to_string());
                    *self.json.pointer_mut(&p).unwrap() = v;
                }
            }
            Edit::WrongType { region, at, lit } => {
                if let Some(p) = self.pick(*region, *at, |_| true) {
                    let v = self.raw(WRONG_TYPES[*lit].to_string());
                    *self.json.pointer_mut(&p).unwrap() = v;
                }
            }
            Edit::CopyAction { i, j } => {
                if let Some(steps) = self.steps()
                    && !steps.is_empty()
                {
                    let n = steps.len();
                    let action = steps[j % n].get("action").cloned();
                    if let Value::Object(step) = &mut steps[i % n] {
                        match action {
                            Some(a) => step.insert("action".into(), a),
                            None => step.remove("action"),
                        };
                    }
                }
            }
            Edit::SwapSteps { i, j } => {
                if let Some(steps) = self.steps()
                    && !steps.is_empty()
                {
                    let n = steps.len();
                    steps.swap(i % n, j % n);
                }
            }
            Edit::DuplicateStep { i } => {
                if let Some(steps) = self.steps()
                    && !steps.is_empty()
                {
                    let n = steps.len();
                    let step = steps[i % n].clone();
                    steps.insert(i % n + 1, step);
                }
            }
            Edit::RemoveStep { i } => {
                if let Some(steps) = self.steps()
                    && !steps.is_empty()
                {
                    let n = steps.len();
                    steps.remove(i % n);
                }
            }
            Edit::EmptySteps => {
                if let Some(steps) = self.steps() {
                    steps.clear();
                }
            }
            Edit::Splice {
                from,
                part,
                src,
                dst,
            } => {
                let other = &trace(from).json;
                let theirs = other["steps"].as_array().unwrap();
                let step = &theirs[src % theirs.len()];
                if let Part::Config = part {
                    if let Value::Object(m) = &mut self.json {
                        m.insert("config".into(), other["config"].clone());
                    }
                    return;
                }
                if let Some(steps) = self.steps()
                    && !steps.is_empty()
                {
                    let n = steps.len();
                    let mine = &mut steps[dst % n];
                    match part {
                        Part::Step => *mine = step.clone(),
                        Part::State | Part::Action => {
                            let key = if let Part::State = part {
                                "state"
                            } else {
                                "action"
                            };
                            if let (Value::Object(m), Some(v)) = (mine, step.get(key)) {
                                m.insert(key.into(), v.clone());
                            }
                        }
                        Part::Config => unreachable!(),
                    }
                }
            }
            Edit::Meta { field, value } => {
                let name = META[*field];
                let values = meta_values(name, &self.json);
                let v = values[value % values.len()].clone();
                let v = self.raw(v);
                if let Value::Object(m) = &mut self.json {
                    m.insert(name.into(), v);
                }
            }
            Edit::Nest { at, depth } => {
                let paths = pointers(&self.json);
                let p = &paths[at % paths.len()];
                let inner = serde_json::to_string(self.json.pointer(p).unwrap()).unwrap();
                let d = DEPTHS[*depth];
                let v = self.raw(format!("{}{inner}{}", "[".repeat(d), "]".repeat(d)));
                if p.is_empty() {
                    self.json = v;
                } else {
                    *self.json.pointer_mut(p).unwrap() = v;
                }
            }
        }
    }

    fn bytes(&self, pretty: bool) -> Vec<u8> {
        let mut text = if pretty {
            serde_json::to_string_pretty(&self.json)
        } else {
            serde_json::to_string(&self.json)
        }
        .unwrap();
        // Later markers first: `@@raw1@@` must not be found inside `@@raw10@@`.
        for (k, raw) in self.raw.iter().enumerate().rev() {
            text = text.replace(&format!("\"@@raw{k}@@\""), raw);
        }
        text.into_bytes()
    }
}

/// The values [`Edit::Meta`] gives a top-level field: other protocols', variants',
/// properties' names, unknown ones, and numbers out of range.
fn meta_values(field: &str, json: &Value) -> Vec<String> {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    let names = |f: fn(&Trace) -> String| {
        let mut v: Vec<String> = model_traces().iter().map(|t| f(t)).collect();
        v.sort();
        v.dedup();
        v
    };
    let len = json["steps"].as_array().map_or(0, Vec::len);
    match field {
        "protocol" => ["queue", "election", "raft", "", "Queue"]
            .iter()
            .map(|s| quote(s))
            .collect(),
        "variant" => names(|t| t.variant.clone())
            .iter()
            .map(String::as_str)
            .chain(["correct", "bogus", "", "impl-no-fencing"])
            .map(quote)
            .collect(),
        "property" => names(|t| t.json["property"].as_str().unwrap().to_string())
            .iter()
            .map(String::as_str)
            .chain([
                "MessageDeleted",
                "MessageDeadLettered",
                "LeaderElected",
                "LeaderEventuallyElected",
                "CrashedLeaderReplaced",
                "Nope",
                "",
            ])
            .map(quote)
            .collect(),
        "kind" => ["always", "sometimes", "eventually", "leads-to", "bogus"]
            .iter()
            .map(|s| quote(s))
            .collect(),
        "format" => ["0", "2", "-1", "1.0", "4294967296", "\"1\"", "null"]
            .map(String::from)
            .to_vec(),
        "cycle_start" => [
            0.to_string(),
            1.to_string(),
            len.saturating_sub(1).to_string(),
            len.to_string(),
            (len + 1).to_string(),
            "-1".into(),
            "18446744073709551615".into(),
            "18446744073709551616".into(),
            "null".into(),
            "\"3\"".into(),
        ]
        .to_vec(),
        _ => ["\"\"", "\"coordlab check queue/bogus\"", "7"]
            .map(String::from)
            .to_vec(),
    }
}

/// A mutated trace: which committed trace, the edits, the byte edit, how it is written
/// and where.
#[derive(Clone, Debug)]
struct TraceMutation {
    base: String,
    edits: Vec<Edit>,
    bytes: Option<ByteEdit>,
    pretty: bool,
    /// Filed as `counterexamples/<protocol>/<variant>/<name>` of the trace it came from.
    filed: bool,
    /// The `--on` of the second replay.
    on: String,
}

fn trace_mutation() -> impl Strategy<Value = TraceMutation> {
    let rels: Vec<String> = model_traces().iter().map(|t| t.rel.clone()).collect();
    (
        prop::sample::select(rels),
        prop::collection::vec(edit(), 1..4),
        byte_edit(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::sample::select(on_targets()),
    )
        .prop_map(|(base, edits, bytes, pretty, filed, on)| TraceMutation {
            base,
            edits,
            bytes,
            pretty,
            filed,
            on,
        })
}

fn apply_bytes(mut bytes: Vec<u8>, edit: &Option<ByteEdit>) -> Vec<u8> {
    let at = |frac: u16, len: usize| len * usize::from(frac) / 65536;
    match edit {
        None => {}
        Some(ByteEdit::Truncate { frac }) => bytes.truncate(at(*frac, bytes.len())),
        Some(ByteEdit::Insert { frac, what }) => {
            let i = at(*frac, bytes.len());
            bytes.splice(i..i, INSERTS[*what].iter().copied());
        }
    }
    bytes
}

impl TraceMutation {
    /// Writes the mutated trace below `dir`; returns its path.
    fn write(&self, dir: &Path) -> PathBuf {
        let base = trace(&self.base);
        let mut draft = Draft {
            json: base.json.clone(),
            raw: Vec::new(),
        };
        for e in &self.edits {
            draft.apply(e);
        }
        let bytes = apply_bytes(draft.bytes(self.pretty), &self.bytes);
        let path = if self.filed {
            dir.join("counterexamples").join(&base.rel)
        } else {
            dir.join("trace.json")
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// How many mutated traces each run tries. Each case runs the binary six times (`show` in
/// four formats, `replay`, `replay --on`), about 20 ms in all on 2 cores: 384 cases take
/// about 8 s. Shrinking a failure is bounded by [`config`]'s `max_shrink_time`.
const TRACE_CASES: u32 = 384;

/// How many sets of mutated manifests each run tries. Each case runs `list`, `check` of
/// one small check with a one-second `--timeout` (a mutation that enlarges the bounds
/// runs into it), `simulate` of five short walks, and `explore` until it serves: about
/// 40 ms a case on 2 cores (most mutations are rejected when the manifests load), so 128
/// cases take about 5 s.
const MANIFEST_CASES: u32 = 128;

/// The fixed seed of the property tests, so that CI runs the same cases each time;
/// `PROPTEST_RNG_SEED=<n>` tries others.
const SEED: u64 = 0x00c0_07d1_ab00_0008;

fn config(cases: u32) -> Config {
    let base = Config::default();
    Config {
        cases,
        rng_seed: match base.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            fixed => fixed,
        },
        // Failures are recorded as named cases in the tables below, not in a file beside
        // this one.
        failure_persistence: None,
        // Each shrinking step runs the binary: bound the time it may take.
        max_shrink_time: 120_000,
        ..base
    }
}

/// Runs a mutated trace through `show` in every format, `replay`, and `replay --on`
/// another target; returns every problem: the contract of each run, and `show` reading the
/// trace as `replay` does — a trace that replays is shown in every format; one that
/// `replay` rejects as bad input (exit 2) `show` rejects too; one whose steps `replay`
/// finds not enabled, not initial or not producing the recorded state, `show` does not
/// render (exit 1 or 2).
fn trace_problems(tmp: &Path, m: &TraceMutation) -> Vec<String> {
    let file = m.write(tmp);
    show_and_replay(tmp, &file, &m.on)
}

fn show_and_replay(cwd: &Path, file: &Path, on: &str) -> Vec<String> {
    let f = file.as_os_str();
    let mut problems = Vec::new();
    let mut shows = Vec::new();
    for format in FORMATS {
        let (run, p) = Case::new(cwd, &os(&[&"show", &f, &"--format", &format])).check();
        problems.extend(p);
        shows.push((format, run.status.and_then(|s| s.code())));
    }
    let (replay, p) = Case::new(cwd, &os(&[&"replay", &f])).check();
    problems.extend(p);
    let (_, p) = Case::new(cwd, &os(&[&"replay", &f, &"--on", &on])).check();
    problems.extend(p);
    let replay_code = replay.status.and_then(|s| s.code());
    let diverged = stdout_of(&replay);
    let at_a_step = replay_code == Some(1) && diverged.contains(": step ");
    for (format, code) in shows {
        let show = format!("`coordlab show {} --format {format}`", file.display());
        if replay_code == Some(0) && code != Some(0) {
            problems.push(format!(
                "{show}: exit {code:?}, but `replay` reproduces the trace"
            ));
        }
        if replay_code == Some(2) && code != Some(2) {
            problems.push(format!(
                "{show}: exit {code:?}, but `replay` rejects the trace: {}",
                stderr_of(&replay).trim_end()
            ));
        }
        if at_a_step && code == Some(0) {
            problems.push(format!(
                "{show}: renders a trace that `replay` finds broken: {}",
                diverged.trim_end()
            ));
        }
    }
    problems
}

proptest! {
    #![proptest_config(config(TRACE_CASES))]

    /// Mutated counterexamples never panic `show` or `replay`, and `show` reads them as
    /// `replay` does (see [`trace_problems`]).
    #[test]
    fn mutated_traces_never_panic(m in trace_mutation()) {
        let tmp = tempfile::tempdir().unwrap();
        let problems = trace_problems(tmp.path(), &m);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------
// Mutating manifests
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Which part of a manifest an edit picks its node from.
#[derive(Clone, Copy, Debug)]
enum MRegion {
    /// The top-level table and its keys (`protocol`, `check`).
    Top,
    /// A `[[check]]` table and its keys.
    Check,
    /// Inside a check's `bounds`.
    Bounds,
    /// Inside a check's `expect`.
    Expect,
    /// Inside the check that `check` and `simulate` run.
    Target,
    Anywhere,
}

/// The check that runs weighs most: an edit there reaches the model, not only the
/// manifest's validation.
fn mregion() -> impl Strategy<Value = MRegion> {
    prop_oneof![
        1 => Just(MRegion::Top),
        1 => Just(MRegion::Check),
        1 => Just(MRegion::Bounds),
        1 => Just(MRegion::Expect),
        4 => Just(MRegion::Target),
        1 => Just(MRegion::Anywhere),
    ]
}

impl MRegion {
    /// Whether `path` is in the region; `targets` are the indices of the checks that run.
    fn holds(self, path: &[Seg], targets: &[usize]) -> bool {
        let key = |i: usize, k: &str| path.get(i) == Some(&Seg::Key(k.into()));
        match self {
            MRegion::Target => {
                key(0, "check")
                    && path.len() >= 3
                    && matches!(path[1], Seg::Index(i) if targets.contains(&i))
            }
            MRegion::Top => path.len() <= 1,
            MRegion::Check => key(0, "check") && (2..=3).contains(&path.len()),
            MRegion::Bounds => key(0, "check") && key(2, "bounds"),
            MRegion::Expect => key(0, "check") && key(2, "expect"),
            MRegion::Anywhere => true,
        }
    }
}

/// TOML number literals out of range of the fields they replace (`u8` bounds, `usize`
/// state counts) and of TOML itself, and non-integers.
const TOML_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "255",
    "256",
    "1000000000",
    "1e9",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "0x10",
    "1_000",
    "3",
    "8",
    "9",
];

/// TOML values of the wrong type.
const TOML_WRONG_TYPES: &[&str] = &[
    "\"7\"",
    "true",
    "[]",
    "{}",
    "[1, 2]",
    "{ x = 1 }",
    "1979-05-27T07:32:00Z",
    "\"\"",
    "[{ variant = \"correct\" }]",
];

/// Strings for [`MEdit::SetString`]: protocols, variants, checkers, expectations and
/// retry policies, right and wrong.
const TOML_STRINGS: &[&str] = &[
    "queue",
    "election",
    "raft",
    "",
    "correct",
    "no-dead-letter",
    "no-fencing",
    "stale-receipt-delete",
    "bogus",
    "bfs",
    "dfs",
    "fair-cycles",
    "none",
    "holds",
    "violated",
    "pending",
    "maybe",
    "exponential-backoff",
    "immediate",
    "requeue-on-expiry",
    "Bad Label",
    "label-x",
    "NoMessageLost",
];

/// Keys for [`MEdit::AddKey`]: unknown ones, and known ones in the wrong place.
const TOML_KEYS: &[&str] = &[
    "consumer",
    "colour",
    "Nope",
    "AtMostOneLeader",
    "NoMessageLost",
    "nodes",
    "messages",
    "label",
    "unique-states",
    "liveness-states",
    "checker",
    "protocol",
];

/// One structural edit of the manifests. `file` indexes [`MANIFESTS`]; other indices are
/// taken modulo what they index.
#[derive(Clone, Debug)]
enum MEdit {
    /// Deletes the `key`-th key of the `at`-th table of `region`.
    DeleteKey {
        file: usize,
        region: MRegion,
        at: usize,
        key: usize,
    },
    /// Replaces the `at`-th number of `region` with `TOML_NUMBERS[lit]`.
    Number {
        file: usize,
        region: MRegion,
        at: usize,
        lit: usize,
    },
    /// Replaces the `at`-th value of `region` with `TOML_WRONG_TYPES[lit]`.
    WrongType {
        file: usize,
        region: MRegion,
        at: usize,
        lit: usize,
    },
    /// Replaces the `at`-th string with `TOML_STRINGS[value]`.
    SetString {
        file: usize,
        at: usize,
        value: usize,
    },
    /// Adds `TOML_KEYS[key] = <a number, wrong type or string>` to the `at`-th table of
    /// `region`.
    AddKey {
        file: usize,
        region: MRegion,
        at: usize,
        key: usize,
        lit: usize,
    },
    /// Appends a copy of check `i`, relabelled `label-x` or not.
    DuplicateCheck {
        file: usize,
        i: usize,
        relabel: bool,
    },
    RemoveCheck {
        file: usize,
        i: usize,
    },
    /// Writes the manifest a second time, under another name.
    CopyFile {
        file: usize,
    },
}

fn medit() -> impl Strategy<Value = MEdit> {
    let file = || 0..MANIFESTS.len();
    let idx = || 0..64usize;
    let lits = TOML_NUMBERS.len() + TOML_WRONG_TYPES.len() + TOML_STRINGS.len();
    prop_oneof![
        2 => (file(), mregion(), idx(), idx()).prop_map(|(file, region, at, key)| MEdit::DeleteKey {
            file,
            region,
            at,
            key
        }),
        3 => (file(), mregion(), idx(), 0..TOML_NUMBERS.len()).prop_map(
            |(file, region, at, lit)| MEdit::Number {
                file,
                region,
                at,
                lit
            }
        ),
        2 => (file(), mregion(), idx(), 0..TOML_WRONG_TYPES.len()).prop_map(
            |(file, region, at, lit)| MEdit::WrongType {
                file,
                region,
                at,
                lit
            }
        ),
        2 => (file(), idx(), 0..TOML_STRINGS.len()).prop_map(|(file, at, value)| MEdit::SetString {
            file,
            at,
            value
        }),
        1 => (file(), mregion(), idx(), 0..TOML_KEYS.len(), 0..lits).prop_map(
            |(file, region, at, key, lit)| MEdit::AddKey {
                file,
                region,
                at,
                key,
                lit
            }
        ),
        1 => (file(), idx(), any::<bool>()).prop_map(|(file, i, relabel)| MEdit::DuplicateCheck {
            file,
            i,
            relabel
        }),
        1 => (file(), idx()).prop_map(|(file, i)| MEdit::RemoveCheck { file, i }),
        1 => file().prop_map(|file| MEdit::CopyFile { file }),
    ]
}

fn toml_paths(v: &toml::Value) -> Vec<Vec<Seg>> {
    fn walk(v: &toml::Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        out.push(path.clone());
        match v {
            toml::Value::Table(t) => {
                for (k, c) in t {
                    path.push(Seg::Key(k.clone()));
                    walk(c, path, out);
                    path.pop();
                }
            }
            toml::Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(c, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn toml_at<'a>(v: &'a mut toml::Value, path: &[Seg]) -> Option<&'a mut toml::Value> {
    let mut v = v;
    for seg in path {
        v = match (seg, v) {
            (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k)?,
            (Seg::Index(i), toml::Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A manifest being edited, with raw literals as in [`Draft`].
struct TomlDraft {
    value: toml::Value,
    raw: Vec<String>,
    copies: usize,
    /// The `protocol/variant` that `check` and `simulate` run.
    target: &'static str,
}

impl TomlDraft {
    fn raw(&mut self, text: &str) -> toml::Value {
        self.raw.push(text.to_string());
        toml::Value::String(format!("@@raw{}@@", self.raw.len() - 1))
    }

    fn pick(
        &mut self,
        region: MRegion,
        at: usize,
        want: fn(&toml::Value) -> bool,
    ) -> Option<&mut toml::Value> {
        let targets = self.targets();
        let found: Vec<Vec<Seg>> = toml_paths(&self.value)
            .into_iter()
            .filter(|p| region.holds(p, &targets))
            .filter(|p| toml_at(&mut self.value, p).is_some_and(|v| want(v)))
            .collect();
        if found.is_empty() {
            return None;
        }
        let p = found[at % found.len()].clone();
        toml_at(&mut self.value, &p)
    }

    fn checks(&mut self) -> Option<&mut Vec<toml::Value>> {
        self.value.get_mut("check")?.as_array_mut()
    }

    /// The indices of the checks of the target variant, if the manifest is its protocol's.
    fn targets(&self) -> Vec<usize> {
        let (protocol, variant) = self.target.split_once('/').unwrap();
        if self.value.get("protocol").and_then(toml::Value::as_str) != Some(protocol) {
            return Vec::new();
        }
        let checks = self.value.get("check").and_then(toml::Value::as_array);
        checks
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, c)| c.get("variant").and_then(toml::Value::as_str) == Some(variant))
            .map(|(i, _)| i)
            .collect()
    }

    fn apply(&mut self, edit: &MEdit) {
        match edit {
            MEdit::DeleteKey {
                region, at, key, ..
            } => {
                if let Some(toml::Value::Table(t)) = self.pick(*region, *at, toml::Value::is_table)
                    && !t.is_empty()
                {
                    let k = t.keys().nth(key % t.len()).unwrap().clone();
                    t.remove(&k);
                }
            }
            MEdit::Number {
                region, at, lit, ..
            } => {
                let v = self.raw(TOML_NUMBERS[*lit]);
                if let Some(n) = self.pick(*region, *at, |v| v.is_integer() || v.is_float()) {
                    *n = v;
                }
            }
            MEdit::WrongType {
                region, at, lit, ..
            } => {
                let v = self.raw(TOML_WRONG_TYPES[*lit]);
                // Not the root: a manifest is a table.
                let targets = self.targets();
                let paths: Vec<Vec<Seg>> = toml_paths(&self.value)
                    .into_iter()
                    .filter(|p| !p.is_empty() && region.holds(p, &targets))
                    .collect();
                if !paths.is_empty() {
                    let p = paths[at % paths.len()].clone();
                    *toml_at(&mut self.value, &p).unwrap() = v;
                }
            }
            MEdit::SetString { at, value, .. } => {
                if let Some(s) = self.pick(MRegion::Anywhere, *at, toml::Value::is_str)
                    && !s.as_str().unwrap().starts_with("@@raw")
                {
                    *s = toml::Value::String(TOML_STRINGS[*value].to_string());
                }
            }
            MEdit::AddKey {
                region,
                at,
                key,
                lit,
                ..
            } => {
                let all: Vec<&str> = TOML_NUMBERS
                    .iter()
                    .chain(TOML_WRONG_TYPES)
                    .copied()
                    .collect();
                let v = match all.get(*lit) {
                    Some(text) => self.raw(text),
                    None => toml::Value::String(TOML_STRINGS[lit - all.len()].to_string()),
                };
                if let Some(toml::Value::Table(t)) = self.pick(*region, *at, toml::Value::is_table)
                {
                    t.insert(TOML_KEYS[*key].to_string(), v);
                }
            }
            MEdit::DuplicateCheck { i, relabel, .. } => {
                if let Some(checks) = self.checks()
                    && !checks.is_empty()
                {
                    let mut c = checks[i % checks.len()].clone();
                    if *relabel && let toml::Value::Table(t) = &mut c {
                        t.insert("label".into(), toml::Value::String("label-x".into()));
                    }
                    checks.push(c);
                }
            }
            MEdit::RemoveCheck { i, .. } => {
                if let Some(checks) = self.checks()
                    && !checks.is_empty()
                {
                    let n = checks.len();
                    checks.remove(i % n);
                }
            }
            MEdit::CopyFile { .. } => self.copies += 1,
        }
    }

    /// The manifest's text, or `None` if the edits made something TOML cannot write.
    fn text(&self) -> Option<String> {
        let mut text = toml::to_string(&self.value).ok()?;
        for (k, raw) in self.raw.iter().enumerate().rev() {
            for quote in ["\"", "'"] {
                text = text.replace(&format!("{quote}@@raw{k}@@{quote}"), raw);
            }
        }
        (!text.contains("@@raw")).then_some(text)
    }
}

impl MEdit {
    fn file(&self) -> usize {
        match self {
            MEdit::DeleteKey { file, .. }
            | MEdit::Number { file, .. }
            | MEdit::WrongType { file, .. }
            | MEdit::SetString { file, .. }
            | MEdit::AddKey { file, .. }
            | MEdit::DuplicateCheck { file, .. }
            | MEdit::RemoveCheck { file, .. }
            | MEdit::CopyFile { file } => *file,
        }
    }
}

/// A mutated manifest directory, and the check that `check`, `simulate` and `explore`
/// select.
#[derive(Clone, Debug)]
struct ManifestMutation {
    edits: Vec<MEdit>,
    /// A byte edit of one manifest's text.
    bytes: Option<(usize, ByteEdit)>,
    target: &'static str,
    /// A `--set` given to `check`, `simulate` and `explore`.
    set: Option<&'static str>,
    json: bool,
    junit: bool,
}

/// The checks `check` and `simulate` run on mutated manifests: the smallest of each
/// protocol (111 and 105,088 states at the committed bounds).
const SMALL_CHECKS: &[&str] = &["queue/no-dead-letter", "election/no-fencing"];

/// `--set` values for mutated manifests: bounds of either protocol, in and out of range.
const SETS: &[&str] = &[
    "consumers=1",
    "consumers=9",
    "consumers=0",
    "messages=2",
    "max-crashes=0",
    "max-crashes=255",
    "visibility-timeout=3",
    "retry=immediate",
    "retry=bogus",
    "nodes=3",
    "nodes=5",
    "lease=4",
    "drift=2",
    "max-terms=255",
    "bogus=1",
];

fn manifest_mutation() -> impl Strategy<Value = ManifestMutation> {
    (
        prop::collection::vec(medit(), 1..4),
        prop::option::weighted(0.2, (0..MANIFESTS.len(), byte_edit())),
        prop::sample::select(SMALL_CHECKS),
        prop::option::weighted(0.3, prop::sample::select(SETS)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(edits, bytes, target, set, json, junit)| ManifestMutation {
                edits,
                bytes: bytes.and_then(|(f, b)| b.map(|b| (f, b))),
                target,
                set,
                json,
                junit,
            },
        )
}

impl ManifestMutation {
    /// Writes the manifests into `dir`; `None` if an edit made something TOML cannot write.
    fn write(&self, dir: &Path) -> Option<()> {
        std::fs::create_dir_all(dir).unwrap();
        for (f, name) in MANIFESTS.iter().enumerate() {
            let mut draft = TomlDraft {
                value: toml::Value::Table(toml::from_str(&manifest_text(name)).unwrap()),
                raw: Vec::new(),
                copies: 0,
                target: self.target,
            };
            for e in self.edits.iter().filter(|e| e.file() == f) {
                draft.apply(e);
            }
            let edited = self.edits.iter().any(|e| e.file() == f);
            let text = if edited {
                draft.text()?
            } else {
                manifest_text(name)
            };
            let mut bytes = text.into_bytes();
            if let Some((bf, b)) = &self.bytes
                && *bf == f
            {
                bytes = apply_bytes(bytes, &Some(b.clone()));
            }
            std::fs::write(dir.join(name), &bytes).unwrap();
            for k in 0..draft.copies {
                std::fs::write(dir.join(format!("copy-{k}-{name}")), &bytes).unwrap();
            }
        }
        Some(())
    }
}

/// Runs mutated manifests through `list`, `check`, `simulate` and `explore` (killed once it
/// serves); returns every problem: the contract of each run, and the four reading the
/// manifests the same way — manifests that `list` rejects (exit 2), the others reject too,
/// and `check` rejects only those, a target they do not check, or a bad `--set`. `None` if
/// the edits made something TOML cannot write.
fn manifest_problems(tmp: &Path, m: &ManifestMutation) -> Option<Vec<String>> {
    let dir = tmp.join("manifests");
    m.write(&dir)?;
    let d = dir.as_os_str();
    let out = tmp.join("out");
    let junit = tmp.join("reports/junit.xml");
    let mut problems = Vec::new();
    let (list, p) = Case::new(tmp, &os(&[&"list", &"--manifests", &d])).check();
    problems.extend(p);
    let mut args = os(&[
        &"check",
        &"--manifests",
        &d,
        &"--timeout",
        &"1",
        &m.target,
        &"--out",
        &out,
    ]);
    if m.json {
        args.push("--json".into());
    }
    if m.junit {
        args.extend(os(&[&"--junit", &junit]));
    }
    let set: Vec<OsString> = m.set.iter().flat_map(|s| os(&[&"--set", s])).collect();
    args.extend(set.iter().cloned());
    let (check, p) = Case::new(tmp, &args).outputs(&[&out, &junit]).check();
    problems.extend(p);
    let sim_out = tmp.join("sim");
    let mut args = os(&[
        &"simulate",
        &m.target,
        &"--manifests",
        &d,
        &"--seeds",
        &"5",
        &"--depth",
        &"10",
        &"--out",
        &sim_out,
    ]);
    args.extend(set.iter().cloned());
    let (simulate, p) = Case::new(tmp, &args).outputs(&[&sim_out]).check();
    problems.extend(p);
    let mut args = os(&[&"explore", &m.target, &"--manifests", &d, &"--port", &"0"]);
    args.extend(set.iter().cloned());
    let (explore, p) = Case::new(tmp, &args)
        .serves()
        .deadline(Duration::from_secs(30))
        .check();
    problems.extend(p);
    let code = |r: &Run| r.status.and_then(|s| s.code());
    // Manifests that load may still hold no check of the target (an edit removed it or
    // renamed its variant): then `check` says so, naming the target.
    let no_target = stderr_of(&check).contains(&format!("`{}`", m.target));
    let bad_set = stderr_of(&check).contains("--set");
    if code(&list) == Some(2) && code(&check) != Some(2)
        || code(&list) == Some(0) && code(&check) == Some(2) && !no_target && !bad_set
    {
        problems.push(format!(
            "`list` exits {:?} but `check` exits {:?} on the same manifests: {} | {}",
            code(&list),
            code(&check),
            stderr_of(&list).trim_end(),
            stderr_of(&check).trim_end()
        ));
    }
    for (cmd, run) in [("simulate", &simulate), ("explore", &explore)] {
        if code(&list) == Some(2) && code(run) != Some(2) {
            problems.push(format!(
                "`list` rejects the manifests but `{cmd}` {}: {}",
                match code(run) {
                    Some(c) => format!("exits {c}"),
                    None => "runs".into(),
                },
                stderr_of(&list).trim_end()
            ));
        }
    }
    Some(problems)
}

proptest! {
    #![proptest_config(config(MANIFEST_CASES))]

    /// Mutated manifests never panic `list`, `check` or `simulate`, and the three read
    /// them the same way (see [`manifest_problems`]).
    #[test]
    fn mutated_manifests_never_panic(m in manifest_mutation()) {
        let tmp = tempfile::tempdir().unwrap();
        let problems = manifest_problems(tmp.path(), &m);
        prop_assume!(problems.is_some());
        let problems = problems.unwrap_or_default();
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------

const STALE: &str = "queue/stale-receipt-delete/NoMessageLost.json";
const LASSO: &str = "queue/no-dead-letter/EveryMessageResolved.json";
const FENCING: &str = "election/no-fencing/StaleTokenWriteRejected.json";
const FORMATS: [&str; 4] = ["text", "markdown", "mermaid", "json"];

fn committed_path(rel: &str) -> PathBuf {
    root().join("counterexamples").join(rel)
}

/// An edit of a trace's JSON, for the tables.
type JsonEdit = Box<dyn Fn(&mut Value)>;

/// Writes `base` with `edit` applied as `dir/name`.
fn edited(dir: &Path, name: &str, base: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = trace(base).json.clone();
    edit(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

fn os(args: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// The named ways to a panic from the command line: a `--timeout` no clock can add,
/// `check … | head -1`, `explore` on a busy port and on `--port 0`, `show` of a step whose
/// node does not exist. Each on its own, so that a regression names itself.
#[test]
fn named_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("out");
    let o = out.as_os_str();
    let mut f = Findings::default();

    // `--timeout 1e20`: out of the range of a duration; exit 2 naming the option (or 1,
    // as documented).
    f.run(
        "timeout-1e20",
        &Case::new(
            t,
            &os(&[
                &"check",
                &"queue/no-dead-letter",
                &"--timeout",
                &"1e20",
                &"--out",
                &o,
            ]),
        )
        .outputs(&[&out]),
        Expect {
            codes: Some(&[1, 2]),
            needle: Some("--timeout".into()),
        },
    );

    // `coordlab check queue/no-dead-letter | head -1`.
    closed_stdout_case(
        &mut f,
        "check-head-1",
        &os(&[&"check", &"queue/no-dead-letter", &"--out", &o]),
        t,
    );

    // `explore` on a busy port: nothing on stdout, exit 2 promptly, naming the port.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let run = f.run(
        "explore-busy-port",
        &Case::new(t, &["explore", "queue/correct", "--port", &port])
            .deadline(Duration::from_secs(10)),
        Expect {
            codes: Some(&[2]),
            needle: Some(port.clone()),
        },
    );
    if !run.stdout.is_empty() {
        f.push(
            "explore-busy-port",
            format!(
                "printed on stdout although it cannot serve: {}",
                stdout_of(&run).trim_end()
            ),
        );
    }
    drop(busy);

    // `explore --port 0`: prints the port it bound, which serves.
    let run = f.run(
        "explore-port-0",
        &Case::new(t, &["explore", "queue/correct", "--port", "0"])
            .serves()
            .may_run_on(Duration::from_secs(30)),
        ANY,
    );
    match explorer_port(&run.stdout) {
        Some(0) | None => f.push(
            "explore-port-0",
            format!(
                "does not print the port it bound: {:?} (exit {:?})",
                stdout_of(&run),
                run.status
            ),
        ),
        Some(p) if run.served != Some(p) => f.push(
            "explore-port-0",
            format!("prints port {p}, which does not accept a connection"),
        ),
        Some(_) => {}
    }

    // `show` on traces whose action names a node that does not exist, in every format:
    // exit 2 naming the file, or 1, like `replay` (which answers 1: the step is not
    // enabled).
    let out_of_range: [(&str, &str, JsonEdit); 6] = [
        (
            "queue-receive-msg-9",
            STALE,
            Box::new(|v| {
                v["steps"][2]["action"] = serde_json::json!({"receive": {"consumer": 0, "msg": 9}})
            }),
        ),
        (
            "queue-receive-consumer-9",
            STALE,
            Box::new(|v| {
                v["steps"][2]["action"] = serde_json::json!({"receive": {"consumer": 9, "msg": 0}})
            }),
        ),
        (
            "queue-process-consumer-9",
            STALE,
            Box::new(|v| {
                for s in v["steps"].as_array_mut().unwrap() {
                    if s["action"].get("process").is_some() {
                        s["action"]["process"]["consumer"] = 9.into();
                    }
                }
            }),
        ),
        (
            "queue-release-consumer-9",
            LASSO,
            Box::new(|v| {
                for s in v["steps"].as_array_mut().unwrap() {
                    if s["action"].get("release").is_some() {
                        s["action"]["release"]["consumer"] = 9.into();
                    }
                }
            }),
        ),
        (
            "election-acquire-node-7",
            FENCING,
            Box::new(|v| v["steps"][1]["action"] = serde_json::json!({"acquire": {"node": 7}})),
        ),
        (
            "election-storage-write-node-7",
            FENCING,
            Box::new(|v| {
                for s in v["steps"].as_array_mut().unwrap() {
                    for a in ["prepare-write", "storage-write"] {
                        if s["action"].get(a).is_some() {
                            s["action"][a]["node"] = 7.into();
                        }
                    }
                }
            }),
        ),
    ];
    for (name, base, edit) in out_of_range {
        let path = edited(t, &format!("{name}.json"), base, edit);
        for format in FORMATS {
            f.run(
                &format!("show-{name}-{format}"),
                &Case::new(t, &os(&[&"show", &path.as_os_str(), &"--format", &format])),
                Expect {
                    codes: Some(&[1, 2]),
                    needle: Some(format!("{name}.json")),
                },
            );
        }
        f.run(
            &format!("replay-{name}"),
            &Case::new(t, &os(&[&"replay", &path.as_os_str()])),
            codes(&[1, 2]),
        );
    }
    f.assert_none();
}

/// The smallest mutated traces the property tests found, one for each place where `show`
/// rendered a step the model does not allow (the rendering functions of the models assume
/// a step that `replay` would accept). Each must be answered as `replay` answers it: exit
/// 1 or 2 in every format, never a rendering.
#[test]
fn minimal_mutated_traces() {
    let tmp = tempfile::tempdir().unwrap();
    let mut f = Findings::default();
    let idempotency = "queue/no-idempotency/EffectAtMostOnce.json";
    let delete_first = "queue/delete-before-process/NoMessageLost.json";
    let cases: Vec<(&str, &str, Vec<Edit>)> = vec![
        // Step 1 processes although consumer 0 has received nothing: `describe` and
        // `arrows` of the queue expect a consumer that holds the message.
        (
            "process-while-idle",
            idempotency,
            vec![Edit::CopyAction { i: 1, j: 3 }],
        ),
        // The release of step 7 comes first: consumer 0 holds nothing yet.
        (
            "release-while-idle",
            LASSO,
            vec![Edit::SwapSteps { i: 2, j: 7 }],
        ),
        // The receive is gone: consumer 0 deletes what it never received.
        (
            "delete-while-idle",
            delete_first,
            vec![Edit::RemoveStep { i: 2 }],
        ),
        // The release taken twice in a row: the second by a consumer that holds nothing.
        ("release-twice", LASSO, vec![Edit::DuplicateStep { i: 3 }]),
        // The delete before the receive.
        (
            "delete-before-receive",
            delete_first,
            vec![Edit::SwapSteps { i: 1, j: 2 }],
        ),
        // A state of another variant (one message instead of two) in the middle.
        (
            "state-of-another-variant",
            STALE,
            vec![Edit::Splice {
                from: LASSO.into(),
                part: Part::State,
                src: 2,
                dst: 2,
            }],
        ),
        // A step of another protocol.
        (
            "step-of-another-protocol",
            STALE,
            vec![Edit::Splice {
                from: FENCING.into(),
                part: Part::Step,
                src: 3,
                dst: 3,
            }],
        ),
        // The bounds of another variant: one message, two consumers, for states of two
        // messages and three consumers.
        (
            "config-of-another-variant",
            STALE,
            vec![Edit::Splice {
                from: LASSO.into(),
                part: Part::Config,
                src: 0,
                dst: 0,
            }],
        ),
    ];
    for (name, base, edits) in cases {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let m = TraceMutation {
            base: base.into(),
            edits,
            bytes: None,
            pretty: true,
            filed: false,
            on: "queue/correct".into(),
        };
        let file = m.write(&dir);
        f.run(
            &format!("{name} replay"),
            &Case::new(&dir, &os(&[&"replay", &file])),
            codes(&[1, 2]),
        );
        for format in FORMATS {
            f.run(
                &format!("{name} show --format {format}"),
                &Case::new(&dir, &os(&[&"show", &file, &"--format", &format])),
                Expect {
                    codes: Some(&[1, 2]),
                    needle: Some("trace.json".into()),
                },
            );
        }
    }
    // A node's clock lag beyond the time elapsed: not an initial state; rendering it
    // subtracts the lag from the time (models/src/election.rs, `local_times`).
    let path = edited(
        tmp.path(),
        "lag.json",
        "election/check-then-set/AtMostOneLeader.json",
        |v| {
            v["steps"][0]["state"]["nodes"][0]["lag"] = 3.into();
        },
    );
    for format in FORMATS {
        f.run(
            &format!("election-lag show --format {format}"),
            &Case::new(tmp.path(), &os(&[&"show", &path, &"--format", &format])),
            Expect {
                codes: Some(&[1, 2]),
                needle: Some("lag.json".into()),
            },
        );
    }
    f.run(
        "election-lag replay",
        &Case::new(tmp.path(), &os(&[&"replay", &path])),
        codes(&[1, 2]),
    );
    f.assert_none();
}

/// Runs `args` with stdout read, then with stdout closed: the closed run ends with the
/// same exit code or by SIGPIPE, and says on stderr what the open one said, nothing more.
fn closed_stdout_case(f: &mut Findings, name: &str, args: &[OsString], cwd: &Path) {
    let open = Case::new(cwd, args);
    let (run, problems) = open.check();
    for p in problems {
        f.push(name, p);
    }
    let expected = run.status.and_then(|s| s.code());
    let said = stderr_of(&run);
    let closed = Case::new(cwd, args).closed_stdout();
    let (run, problems) = closed.check();
    for p in problems {
        f.push(name, p);
    }
    if let Some(status) = run.status
        && status.code() != expected
        && signal(&status) != Some(SIGPIPE)
    {
        f.push(
            name,
            format!(
                "`{}`: {status}, but exit {expected:?} with stdout read: {}",
                closed.line(),
                panic_line(&stderr_of(&run))
            ),
        );
    }
    if stderr_of(&run) != said && !stderr_of(&run).contains("panicked") {
        f.push(
            name,
            format!(
                "`{}`: says on stderr {:?}, with stdout read {said:?}",
                closed.line(),
                stderr_of(&run).trim_end()
            ),
        );
    }
}

/// A closed stdout at every command that writes to it.
#[test]
fn closed_stdout_is_a_normal_way_to_stop_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("out");
    let o = out.as_os_str();
    let junit = t.join("junit.xml");
    let stale = committed_path(STALE);
    let lasso = committed_path(LASSO);
    let mut f = Findings::default();
    let mut cases: Vec<(String, Vec<OsString>)> = vec![
        (
            "check".into(),
            os(&[&"check", &"queue/no-dead-letter", &"--out", &o]),
        ),
        (
            "check-json".into(),
            os(&[&"check", &"queue/no-dead-letter", &"--json", &"--out", &o]),
        ),
        (
            "check-junit".into(),
            os(&[
                &"check",
                &"queue/stale-receipt-delete",
                &"--junit",
                &junit.as_os_str(),
                &"--out",
                &o,
            ]),
        ),
        ("list".into(), os(&[&"list"])),
        ("replay".into(), os(&[&"replay", &lasso.as_os_str()])),
        (
            "replay-on".into(),
            os(&[&"replay", &stale.as_os_str(), &"--on", &"queue/correct"]),
        ),
        (
            "simulate".into(),
            os(&[
                &"simulate",
                &"queue/stale-receipt-delete",
                &"--seeds",
                &"300",
                &"--out",
                &o,
            ]),
        ),
        ("help".into(), os(&[&"--help"])),
        ("version".into(), os(&[&"--version"])),
        ("check-help".into(), os(&[&"check", &"--help"])),
    ];
    for format in FORMATS {
        cases.push((
            format!("show-{format}"),
            os(&[&"show", &lasso.as_os_str(), &"--format", &format]),
        ));
    }
    for (name, args) in &cases {
        closed_stdout_case(&mut f, name, args, t);
    }
    // `explore` prints its address, then serves: with stdout closed it may go on serving
    // (it is killed after a few seconds) or stop, but not panic.
    let case = Case::new(t, &["explore", "queue/correct", "--port", "0"])
        .closed_stdout()
        .may_run_on(Duration::from_secs(3));
    let (run, problems) = case.check();
    for p in problems {
        f.push("explore", p);
    }
    let lines = stderr_of(&run).lines().count();
    if lines > 1 {
        f.push(
            "explore",
            format!("{lines} lines on stderr: {}", stderr_of(&run).trim_end()),
        );
    }
    f.assert_none();
}

/// Out-of-range and malformed values of every numeric or structured option.
#[test]
fn out_of_range_options_are_bad_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("out");
    let o = out.as_os_str();
    let mut f = Findings::default();
    let check = |opt: &str, value: &str| -> Case {
        Case::new(
            t,
            &os(&[
                &"check",
                &"queue/no-dead-letter",
                &"--out",
                &o,
                &format!("{opt}={value}"),
            ]),
        )
        .outputs(&[&out])
    };
    let check_sep = |opt: &str, value: &str| -> Case {
        Case::new(
            t,
            &os(&[
                &"check",
                &"queue/no-dead-letter",
                &"--out",
                &o,
                &opt,
                &value,
            ]),
        )
        .outputs(&[&out])
    };

    // --threads: 1 to 1024 (the limit `check --help` gives).
    for v in [
        "0",
        "-1",
        "1.5",
        "",
        "x",
        "1025",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        f.run(
            &format!("threads={v}"),
            &check("--threads", v),
            bad("--threads"),
        );
    }
    f.run("threads -1", &check_sep("--threads", "-1"), codes(&[2]));
    f.run("threads=1024", &check("--threads", "1024"), codes(&[0]));

    // --timeout: a positive number of seconds that a clock can add.
    for v in [
        "0", "-0", "-1", "nan", "NaN", "inf", "-inf", "infinity", "", "x", "0x10", "1e400",
    ] {
        f.run(
            &format!("timeout={v}"),
            &check("--timeout", v),
            bad("--timeout"),
        );
    }
    f.run(
        "timeout -1",
        &check_sep("--timeout", "-1"),
        bad("--timeout"),
    );
    // Beyond what a clock can add (about 1.8e19 s), and beyond the one year `check --help`
    // allows.
    for v in [
        "1e20",
        "1e19",
        "1.8e19",
        "18446744073709551616",
        "1e308",
        "1.7976931348623157e308",
        "1e9",
        "31536001",
    ] {
        f.run(
            &format!("timeout={v}"),
            &check("--timeout", v),
            bad("--timeout"),
        );
    }
    // Too short to finish: out of budget, exit 1.
    for v in ["1e-300", "5e-324", "1e-9"] {
        f.run(
            &format!("timeout={v}"),
            &check("--timeout", v),
            codes(&[1, 2]),
        );
    }
    f.run(
        "timeout=31536000",
        &check("--timeout", "31536000"),
        codes(&[0]),
    );

    // --shard I/N with 1 <= I <= N.
    for v in [
        "0/1",
        "2/1",
        "a/b",
        "1/0",
        "0/0",
        "",
        "/",
        "1",
        "1/2/3",
        "1/-2",
        "-1/2",
        "18446744073709551616/1",
        "1/18446744073709551616",
        "1.0/2",
    ] {
        f.run(&format!("shard={v}"), &check("--shard", v), bad("--shard"));
    }
    for v in ["1/1", "2/2", " 1 / 2 "] {
        f.run(&format!("shard={v}"), &check("--shard", v), codes(&[0]));
    }
    // More shards than checks: empty shards, or refused; never a table of that size.
    for v in [
        "1/100000000000",
        "1/18446744073709551615",
        "18446744073709551615/18446744073709551615",
    ] {
        f.run(
            &format!("shard={v}"),
            &check("--shard", v).deadline(Duration::from_secs(20)),
            Expect {
                codes: Some(&[0, 2]),
                needle: Some("--shard".into()),
            },
        );
    }

    // simulate --seeds and --depth.
    // Each bounded by the other: a few walks, short ones.
    let simulate = |opt: &str, value: &str| -> Case {
        let other = if opt == "--seeds" {
            "--depth=10"
        } else {
            "--seeds=3"
        };
        Case::new(
            t,
            &[
                "simulate",
                "queue/correct",
                other,
                &format!("{opt}={value}"),
            ],
        )
    };
    for v in ["0", "-1", "x", "", "1.5", "18446744073709551616"] {
        f.run(
            &format!("seeds={v}"),
            &simulate("--seeds", v),
            bad("--seeds"),
        );
        f.run(
            &format!("depth={v}"),
            &simulate("--depth", v),
            bad("--depth"),
        );
    }
    // At most 1,000,000 steps (`simulate --help`); the walks stop earlier where nothing
    // changes the state.
    for v in ["1000001", "18446744073709551615"] {
        f.run(
            &format!("depth={v}"),
            &simulate("--depth", v),
            bad("--depth"),
        );
    }
    f.run(
        "depth=1000000",
        &simulate("--depth", "1000000"),
        codes(&[0, 1]),
    );
    // A huge walk count is the budget asked for: the run may go on (and is killed), but
    // does not panic or grow without bound on the way.
    f.run(
        "seeds=huge",
        &Case::new(
            t,
            &[
                "simulate",
                "queue/correct",
                "--depth",
                "1",
                "--seeds",
                "18446744073709551615",
            ],
        )
        .may_run_on(Duration::from_secs(3)),
        ANY,
    );

    // explore --port: a port number that can be bound.
    for v in ["99999", "65536", "-1", "4294967296", "x", ""] {
        f.run(
            &format!("port={v}"),
            &Case::new(t, &["explore", "queue/correct", &format!("--port={v}")])
                .deadline(Duration::from_secs(10)),
            bad("--port"),
        );
    }
    f.run(
        "port -1",
        &Case::new(t, &["explore", "queue/correct", "--port", "-1"]),
        codes(&[2]),
    );
    // A privileged port: refused unless this test may bind it too (as root).
    let may_bind_80 = std::net::TcpListener::bind("127.0.0.1:80").is_ok();
    f.run(
        "port=80",
        &Case::new(t, &["explore", "queue/correct", "--port", "80"])
            .serves()
            .may_run_on(Duration::from_secs(30)),
        if may_bind_80 { ANY } else { bad("80") },
    );

    // --set KEY=VALUE, at each command that takes it: a bound of the check's protocol, of
    // its type, in its range.
    let with_set = |cmd: &str, set: &str| -> Case {
        match cmd {
            "check" => Case::new(
                t,
                &os(&[
                    &"check",
                    &"queue/no-dead-letter",
                    &"--timeout",
                    &"2",
                    &"--out",
                    &o,
                    &"--set",
                    &set,
                ]),
            )
            .outputs(&[&out]),
            "simulate" => Case::new(
                t,
                &[
                    "simulate",
                    "queue/no-dead-letter",
                    "--seeds",
                    "3",
                    "--set",
                    set,
                ],
            ),
            _ => Case::new(
                t,
                &[
                    "explore",
                    "queue/no-dead-letter",
                    "--port",
                    "0",
                    "--set",
                    set,
                ],
            )
            .serves()
            .deadline(Duration::from_secs(30)),
        }
    };
    for set in [
        "",
        "consumers",
        "=3",
        "consumers=",
        "Consumers=3",
        "bogus=1",
        "nodes=3",
        "consumers=0",
        "consumers=9",
        "consumers=-1",
        "consumers=255",
        "consumers=256",
        "consumers=1e9",
        "consumers=1.5",
        "consumers=18446744073709551616",
        "consumers=x",
        "consumers=true",
        "consumers=\"2\"",
        "consumers=[1]",
        "consumers={a=1}",
        "retry=bogus",
        "retry=3",
        "max-receives=17",
        "visibility-timeout=0",
        "backoff-base=3",
    ] {
        for cmd in ["check", "simulate", "explore"] {
            f.run(
                &format!("{cmd} --set {set}"),
                &with_set(cmd, set),
                bad("--set"),
            );
        }
    }
    // In range: the check runs (out of budget at the larger bounds), the walks walk, the
    // explorer serves.
    for set in [
        "consumers=1",
        " consumers = 1 ",
        "visibility-timeout=255",
        "max-crashes=255",
        "consumers=1\nmessages=2",
    ] {
        for cmd in ["check", "simulate", "explore"] {
            f.run(
                &format!("{cmd} --set {set:?}"),
                &with_set(cmd, set),
                if cmd == "explore" {
                    ANY
                } else {
                    codes(&[0, 1])
                },
            );
        }
    }
    // A bound of one protocol given to checks of both, or of the other.
    f.run(
        "check --set across protocols",
        &Case::new(
            t,
            &os(&[
                &"check",
                &"--set",
                &"consumers=2",
                &"--timeout",
                &"1",
                &"--out",
                &o,
            ]),
        )
        .outputs(&[&out]),
        bad("--set"),
    );
    f.run(
        "check election --set consumers",
        &Case::new(
            t,
            &os(&[
                &"check",
                &"election/no-fencing",
                &"--set",
                &"consumers=2",
                &"--out",
                &o,
            ]),
        )
        .outputs(&[&out]),
        bad("--set"),
    );

    // show --format.
    let stale = committed_path(STALE);
    for v in ["bogus", "", "TEXT", "md", "text,json"] {
        f.run(
            &format!("format={v}"),
            &Case::new(
                t,
                &os(&[&"show", &stale.as_os_str(), &format!("--format={v}")]),
            ),
            bad("--format"),
        );
    }
    f.assert_none();
}

/// Unknown or malformed protocols and variants in every positional and in `--on`.
#[test]
fn unknown_targets_in_every_position_are_bad_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("out");
    let o = out.as_os_str();
    let stale = committed_path(STALE);
    let mut f = Findings::default();
    let non_utf8 = {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(b"queue/\xffcorrect".to_vec())
    };
    let mut targets: Vec<OsString> = [
        "paxos",
        "queue/sloppy",
        "queue/",
        "/correct",
        "/",
        "",
        "queue/correct/extra",
        "Queue/correct",
        "election/stale-receipt-delete",
        "queue/impl-stale-receipt-delete",
        "queue/correct[bogus-label]",
        "queue/correct [immediate-retry]",
        "queue/correct[",
        "queue/correct]",
        "queue/correct[]",
        "queue[immediate-retry]",
        "queue/correct[immediate-retry]x",
        "queue/correct[[immediate-retry]]",
        "queue/no-dead-letter[immediate-retry]",
        "election/correct[immediate-retry]",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    targets.push(non_utf8);
    for target in &targets {
        let name = target.to_string_lossy();
        f.run(
            &format!("check {name}"),
            &Case::new(
                t,
                &os(&[&"check", target, &"--timeout", &"2", &"--out", &o]),
            )
            .outputs(&[&out]),
            codes(&[2]),
        );
        f.run(
            &format!("simulate {name}"),
            &Case::new(t, &os(&[&"simulate", target, &"--seeds", &"5"])),
            codes(&[2]),
        );
        f.run(
            &format!("explore {name}"),
            &Case::new(t, &os(&[&"explore", target, &"--port", &"0"]))
                .serves()
                .may_run_on(Duration::from_secs(30)),
            codes(&[2]),
        );
        f.run(
            &format!("replay --on {name}"),
            &Case::new(t, &os(&[&"replay", &stale.as_os_str(), &"--on", target])),
            codes(&[2]),
        );
    }
    // A protocol alone is a filter of `check`, but not a target of the others.
    f.run(
        "simulate queue",
        &Case::new(t, &["simulate", "queue", "--seeds", "5"]),
        bad("queue"),
    );
    f.run(
        "explore queue",
        &Case::new(t, &["explore", "queue", "--port", "0"])
            .serves()
            .may_run_on(Duration::from_secs(30)),
        bad("queue"),
    );
    // A labelled check: it runs (out of budget after a second for the larger), walks,
    // serves (and is killed once it serves).
    for target in [
        "queue/correct[immediate-retry]",
        "election/correct[three-nodes]",
    ] {
        f.run(
            &format!("check {target}"),
            &Case::new(
                t,
                &os(&[&"check", &target, &"--timeout", &"1", &"--out", &o]),
            )
            .outputs(&[&out]),
            ANY,
        );
        f.run(
            &format!("simulate {target}"),
            &Case::new(t, &["simulate", target, "--seeds", "5"]),
            ANY,
        );
        f.run(
            &format!("explore {target}"),
            &Case::new(t, &["explore", target, "--port", "0"])
                .serves()
                .may_run_on(Duration::from_secs(30)),
            ANY,
        );
    }
    f.run(
        "replay --on queue",
        &Case::new(t, &os(&[&"replay", &stale.as_os_str(), &"--on", &"queue"])),
        bad("--on"),
    );
    f.assert_none();
}

/// Files that are missing, directories, unreadable, empty, not UTF-8, not a trace or not a
/// manifest; outputs that cannot be written.
#[test]
fn unusable_files_are_bad_input_naming_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut f = Findings::default();

    let dir = t.join("a-directory.json");
    std::fs::create_dir(&dir).unwrap();
    let missing = t.join("missing.json");
    let unreadable = t.join("unreadable.json");
    std::fs::write(
        &unreadable,
        serde_json::to_string(&trace(STALE).json).unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads it all the same.
    let readable_anyway = std::fs::read(&unreadable).is_ok();
    let loop_link = t.join("loop.json");
    std::os::unix::fs::symlink(&loop_link, &loop_link).unwrap();
    let mut files = vec![dir.clone(), missing.clone(), unreadable.clone(), loop_link];
    for (name, bytes) in [
        ("empty.json", &b""[..]),
        ("null.json", b"null"),
        ("array.json", b"[]"),
        ("object.json", b"{}"),
        ("number.json", b"1"),
        ("string.json", b"\"queue\""),
        ("latin1.json", b"{\"protocol\": \"caf\xe9\"}"),
        ("bom.json", b"\xef\xbb\xbf{}"),
        ("deep.json", &"[".repeat(1_000_000).into_bytes()),
    ] {
        let p = t.join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expect = if *file == unreadable && readable_anyway {
            codes(&[0])
        } else {
            bad(name.clone())
        };
        for format in FORMATS {
            f.run(
                &format!("show {name} --format {format}"),
                &Case::new(t, &os(&[&"show", &file.as_os_str(), &"--format", &format])),
                expect.clone(),
            );
        }
        f.run(
            &format!("replay {name}"),
            &Case::new(t, &os(&[&"replay", &file.as_os_str()])),
            expect,
        );
    }

    // Empty paths.
    let out = t.join("out-empty");
    for args in [
        os(&[&"show", &""]),
        os(&[&"replay", &""]),
        os(&[&"list", &"--manifests", &""]),
        os(&[&"check", &"queue/no-dead-letter", &"--out", &""]),
        os(&[
            &"check",
            &"queue/no-dead-letter",
            &"--out",
            &out,
            &"--junit",
            &"",
        ]),
        os(&[
            &"check",
            &"queue/no-dead-letter",
            &"--manifests",
            &"",
            &"--out",
            &out,
        ]),
        os(&[
            &"simulate",
            &"queue/no-dead-letter",
            &"--seeds",
            &"3",
            &"--out",
            &"",
        ]),
    ] {
        let case = Case::new(t, &args).outputs(&[&out]);
        f.run(&format!("empty path: {}", case.line()), &case, codes(&[2]));
    }

    // Paths that are not UTF-8 are paths all the same.
    let odd = {
        use std::os::unix::ffi::OsStringExt;
        t.join(OsString::from_vec(b"caf\xe9".to_vec()))
    };
    std::fs::create_dir(&odd).unwrap();
    let odd_trace = odd.join("NoMessageLost.json");
    std::fs::copy(committed_path(STALE), &odd_trace).unwrap();
    for format in FORMATS {
        f.run(
            &format!("show non-UTF-8 path --format {format}"),
            &Case::new(t, &os(&[&"show", &odd_trace, &"--format", &format])),
            codes(&[0]),
        );
    }
    f.run(
        "replay non-UTF-8 path",
        &Case::new(t, &os(&[&"replay", &odd_trace])),
        codes(&[0]),
    );
    let odd_out = odd.join("out");
    f.run(
        "check --out non-UTF-8 path",
        &Case::new(
            t,
            &os(&[&"check", &"queue/no-dead-letter", &"--out", &odd_out]),
        )
        .outputs(&[&odd_out]),
        codes(&[0]),
    );

    // The shuttle schedules of the implementations are not model traces.
    for s in shuttle_schedules() {
        let path = committed_path(&s.rel);
        let p = path.as_os_str();
        for format in FORMATS {
            f.run(
                &format!("show {} --format {format}", s.rel),
                &Case::new(t, &os(&[&"show", &p, &"--format", &format])),
                bad("a shuttle schedule of the implementation"),
            );
        }
        f.run(
            &format!("replay {}", s.rel),
            &Case::new(t, &os(&[&"replay", &p])),
            bad("a shuttle schedule of the implementation"),
        );
        f.run(
            &format!("replay {} --on", s.rel),
            &Case::new(t, &os(&[&"replay", &p, &"--on", &"queue/correct"])),
            bad("a shuttle schedule of the implementation"),
        );
    }

    // --manifests that is not a directory of manifests.
    let regular = t.join("regular-file");
    std::fs::write(&regular, "protocol = \"queue\"\n").unwrap();
    let empty_dir = t.join("empty-manifests");
    std::fs::create_dir(&empty_dir).unwrap();
    let mut manifest_dirs = vec![
        ("missing", t.join("no-such-manifests")),
        ("regular-file", regular.clone()),
        ("empty-dir", empty_dir),
    ];
    for (name, content) in [
        ("toml-directory", None),
        ("empty-toml", Some(&b""[..])),
        ("non-utf8", Some(b"protocol = \"qu\xffeue\"\n")),
        ("unreadable", Some(b"protocol = \"queue\"\n")),
        ("only-protocol", Some(b"protocol = \"queue\"\n")),
        ("empty-checks", Some(b"protocol = \"queue\"\ncheck = []\n")),
    ] {
        let d = t.join(format!("manifests-{name}"));
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("election.toml"), manifest_text("election.toml")).unwrap();
        let m = d.join("queue.toml");
        match content {
            None => std::fs::create_dir(&m).unwrap(),
            Some(bytes) => std::fs::write(&m, bytes).unwrap(),
        }
        if name == "unreadable" {
            std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o000)).unwrap();
        }
        manifest_dirs.push((name, d));
    }
    for (name, d) in &manifest_dirs {
        let out = t.join(format!("out-{name}"));
        let (o, m) = (out.as_os_str(), d.as_os_str());
        // Root reads an unreadable manifest all the same; a manifest without the
        // no-dead-letter check leaves nothing to check or simulate.
        let expect = match *name {
            "unreadable" if readable_anyway => ANY,
            "empty-checks" => codes(&[0, 2]),
            _ => bad(d.display().to_string()),
        };
        f.run(
            &format!("list --manifests {name}"),
            &Case::new(t, &os(&[&"list", &"--manifests", &m])),
            if *name == "empty-checks" {
                codes(&[0])
            } else {
                expect.clone()
            },
        );
        f.run(
            &format!("check --manifests {name}"),
            &Case::new(
                t,
                &os(&[
                    &"check",
                    &"queue/no-dead-letter",
                    &"--manifests",
                    &m,
                    &"--timeout",
                    &"2",
                    &"--out",
                    &o,
                ]),
            )
            .outputs(&[&out]),
            expect.clone(),
        );
        f.run(
            &format!("simulate --manifests {name}"),
            &Case::new(
                t,
                &os(&[
                    &"simulate",
                    &"queue/no-dead-letter",
                    &"--manifests",
                    &m,
                    &"--seeds",
                    &"5",
                ]),
            ),
            if *name == "empty-checks" {
                bad("queue/no-dead-letter")
            } else {
                expect
            },
        );
    }

    // Outputs that cannot be written: --out a regular file, --junit beside a regular file
    // or onto a directory. The run exits 2 naming the path, and writes nothing.
    let out = t.join("out");
    let o = out.as_os_str();
    let r = regular.as_os_str();
    f.run(
        "check --out regular-file",
        &Case::new(t, &os(&[&"check", &"queue/no-dead-letter", &"--out", &r])).outputs(&[&regular]),
        bad("regular-file"),
    );
    f.run(
        "simulate --out regular-file",
        &Case::new(
            t,
            &os(&[
                &"simulate",
                &"queue/stale-receipt-delete",
                &"--seeds",
                &"300",
                &"--out",
                &r,
            ]),
        )
        .outputs(&[&regular]),
        bad("regular-file"),
    );
    let beside = regular.join("junit.xml");
    let onto = t.join("a-directory.json");
    for (name, junit, needle) in [
        ("beside-a-file", &beside, "regular-file"),
        ("onto-a-directory", &onto, "a-directory.json"),
    ] {
        // Each into a fresh --out, so that what it writes shows.
        let out = t.join(format!("out-junit-{name}"));
        f.run(
            &format!("check --junit {name}"),
            &Case::new(
                t,
                &os(&[
                    &"check",
                    &"queue/no-dead-letter",
                    &"--out",
                    &out,
                    &"--junit",
                    junit,
                ]),
            )
            .outputs(&[&out, junit]),
            bad(needle),
        );
    }
    // --out and --junit through a symbolic link that loops, or one that leads through a
    // regular file: the directory cannot be made. Refused before the run, on one line, as
    // a regular file is. check-then-set has two counterexamples to write.
    let looped = t.join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let through = t.join("through-a-file");
    std::os::unix::fs::symlink(regular.join("x"), &through).unwrap();
    for (name, dir) in [("loop", &looped), ("through-a-file", &through)] {
        f.run(
            &format!("check --out {name}"),
            &Case::new(
                t,
                &os(&[&"check", &"election/check-then-set", &"--out", dir]),
            )
            .outputs(&[dir]),
            bad(name),
        );
        f.run(
            &format!("simulate --out {name}"),
            &Case::new(
                t,
                &os(&[
                    &"simulate",
                    &"queue/stale-receipt-delete",
                    &"--seeds",
                    &"300",
                    &"--out",
                    dir,
                ]),
            )
            .outputs(&[dir]),
            bad(name),
        );
        let out = t.join(format!("out-junit-{name}"));
        let junit = dir.join("junit.xml");
        f.run(
            &format!("check --junit {name}/junit.xml"),
            &Case::new(
                t,
                &os(&[
                    &"check",
                    &"election/check-then-set",
                    &"--out",
                    &out,
                    &"--junit",
                    &junit,
                ]),
            )
            .outputs(&[&out, &junit]),
            bad(name),
        );
    }

    // A counterexample's Markdown path taken by a directory: its JSON must not be left
    // without it.
    let out = t.join("out-md-taken");
    std::fs::create_dir_all(out.join("queue/no-dead-letter/EveryMessageResolved.md")).unwrap();
    f.run(
        "check --out with the .md path a directory",
        &Case::new(t, &os(&[&"check", &"queue/no-dead-letter", &"--out", &out])).outputs(&[&out]),
        bad("EveryMessageResolved.md"),
    );

    // Into a directory that does not exist yet: it is made.
    let fresh = t.join("reports/deeper/junit.xml");
    f.run(
        "check --junit into a new directory",
        &Case::new(
            t,
            &os(&[
                &"check",
                &"queue/no-dead-letter",
                &"--out",
                &o,
                &"--junit",
                &fresh.as_os_str(),
            ]),
        )
        .outputs(&[&out, &fresh]),
        codes(&[0]),
    );
    if !fresh.is_file() {
        f.push(
            "check --junit into a new directory",
            "no report written".into(),
        );
    }
    f.assert_none();
}

/// `coordlab conform` on every committed run log edited at every JSON node: the node
/// removed, made a string, made a negative number, made a number no field can hold. Each
/// run keeps the contract (exit 0, 1 or 2; on 2 one line naming the log; never a panic).
/// Plus the named faults: an unreadable path, a directory, bytes that are not UTF-8, an
/// unknown `--variant`.
#[test]
fn conform_on_edited_run_logs_keeps_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut f = Findings::default();
    let dir = root().join("checks/tests/conform");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    logs.sort();
    assert!(!logs.is_empty(), "no run logs under {}", dir.display());
    let mut runs = 0;
    for log in &logs {
        let name = log.file_name().unwrap().to_string_lossy().into_owned();
        let json: Value = serde_json::from_slice(&std::fs::read(log).unwrap()).unwrap();
        for ptr in pointers(&json).into_iter().filter(|p| !p.is_empty()) {
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            let edits: [(&str, Option<Value>); 4] = [
                ("removed", None),
                ("a string", Some(Value::from("x"))),
                ("negative", Some(Value::from(-1))),
                ("huge", Some(serde_json::json!(1e30))),
            ];
            for (how, to) in edits {
                let mut v = json.clone();
                match (v.pointer_mut(parent).unwrap(), to) {
                    (Value::Object(m), None) => {
                        m.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    (Value::Array(a), None) => {
                        a.remove(key.parse::<usize>().unwrap());
                    }
                    (_, Some(to)) => *v.pointer_mut(&ptr).unwrap() = to,
                    _ => continue,
                }
                let file = t.join(format!("edited-{runs}.json"));
                std::fs::write(&file, v.to_string()).unwrap();
                f.run(
                    &format!("{name}{ptr} {how}"),
                    &Case::new(t, &os(&[&"conform", &file.as_os_str()])),
                    codes(&[0, 1, 2]),
                );
                runs += 1;
            }
        }
    }
    assert!(runs > 100, "only {runs} edits");
    let not_utf8 = t.join("latin1.json");
    std::fs::write(&not_utf8, b"{\"protocol\": \"q\xe9\"}").unwrap();
    let good = dir.join("queue-correct.json");
    for (name, args, needle) in [
        (
            "missing file",
            os(&[&"conform", &"no/such/run.json"]),
            "no/such/run.json",
        ),
        (
            "a directory",
            os(&[&"conform", &t.as_os_str()]),
            "cannot read",
        ),
        (
            "not UTF-8",
            os(&[&"conform", &not_utf8.as_os_str()]),
            "not UTF-8",
        ),
        (
            "unknown variant",
            os(&[&"conform", &good.as_os_str(), &"--variant", &"no-such-bug"]),
            "no-such-bug",
        ),
    ] {
        f.run(name, &Case::new(t, &args), bad(needle));
    }
    f.assert_none();
}
