//! `coordlab`: model-check coordination protocols, read and replay their counterexamples.
//!
//! Exit codes: 0 every verdict matched its expectation (or the trace reproduced); 1 a
//! verdict did not, a check ran out of budget, or a trace did not reproduce; 2 bad usage
//! or bad input, with one line naming the file and the fault.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use coordlab_checks::engine::Progress;
use coordlab_checks::manifest::{self, CheckSpec};
use coordlab_checks::registry::{self, CheckResult};
use coordlab_checks::report;
use coordlab_checks::trace::{Format, Replay, TraceFile};
use coordlab_checks::{Fault, write_atomic};

#[derive(Parser)]
#[command(
    name = "coordlab",
    version,
    about = "Model-check coordination protocols and read their counterexamples."
)]
#[command(after_help = "With no command, runs the default check suite (`coordlab check`).")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List protocols, their variants and properties, and the checks of the suite.
    List {
        /// Read manifests from this directory instead of the built-in ones.
        #[arg(long)]
        manifests: Option<PathBuf>,
    },
    /// Run checks and print a table of verdicts against the manifests' expectations.
    Check(CheckArgs),
    /// Render a JSON counterexample.
    Show {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Re-execute a JSON counterexample on its model: exit 0 if the violation reproduces.
    Replay {
        file: PathBuf,
        /// Replay on another variant of the same protocol (e.g. a bug's trace on `correct`).
        #[arg(long, value_name = "PROTO/VARIANT")]
        on: Option<String>,
    },
    /// Random walks of a variant, for bounds too large to explore (finds violations, proves
    /// nothing).
    Simulate {
        #[arg(value_name = "PROTO/VARIANT")]
        target: String,
        /// Number of walks; walk k uses seed k, so runs are reproducible.
        #[arg(long, default_value_t = 1000)]
        seeds: u64,
        /// Most steps per walk.
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// Also write each violation found as JSON and Markdown here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Read manifests (for the bounds and expectations) from this directory.
        #[arg(long)]
        manifests: Option<PathBuf>,
    },
    /// Serve coordlab's explorer of a variant on 127.0.0.1: its states, actions and verdicts
    /// in the words of the traces.
    Explore {
        #[arg(value_name = "PROTO/VARIANT")]
        target: String,
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
}

#[derive(clap::Args, Default)]
struct CheckArgs {
    /// Protocols or protocol/variant ids to check (default: all).
    #[arg(value_name = "PROTO[/VARIANT]")]
    filters: Vec<String>,
    /// Worker threads per check (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where counterexamples are written.
    #[arg(long, value_name = "DIR", default_value = "counterexamples")]
    out: PathBuf,
    /// Run only shard I of N (1-based), for a CI matrix.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Seconds each check may run before it is reported as out of budget.
    #[arg(long, value_name = "S")]
    timeout: Option<f64>,
    /// Read manifests from this directory instead of the built-in ones.
    #[arg(long)]
    manifests: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => check(CheckArgs {
            out: PathBuf::from("counterexamples"),
            ..CheckArgs::default()
        }),
        Some(Command::List { manifests }) => list(manifests.as_deref()),
        Some(Command::Check(args)) => check(args),
        Some(Command::Show { file, format }) => show(&file, format),
        Some(Command::Replay { file, on }) => replay(&file, on.as_deref()),
        Some(Command::Explore { target, port }) => explore(&target, port),
        Some(Command::Simulate {
            target,
            seeds,
            depth,
            out,
            manifests,
        }) => simulate(&target, seeds, depth, out.as_deref(), manifests.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(fault) => {
            eprintln!("coordlab: {fault}");
            ExitCode::from(2)
        }
    }
}

/// Loads and validates the manifests; returns the checks with their bounds as one line.
fn load_checks(dir: Option<&Path>) -> Result<Vec<(CheckSpec, String)>, Fault> {
    let specs = manifest::load(dir).map_err(|e| Fault::new(&e.file, e.msg))?;
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let proto = registry::find(&spec.protocol).ok_or_else(|| {
            Fault::new(
                &spec.file,
                format!(
                    "unknown protocol `{}` (known: {})",
                    spec.protocol,
                    known_protocols()
                ),
            )
        })?;
        let bounds = proto
            .validate(&spec)
            .map_err(|msg| Fault::new(&spec.file, msg))?;
        out.push((spec, bounds));
    }
    Ok(out)
}

fn known_protocols() -> String {
    registry::protocols()
        .iter()
        .map(|p| p.id())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(manifests: Option<&Path>) -> Result<ExitCode, Fault> {
    let checks = load_checks(manifests)?;
    for proto in registry::protocols() {
        println!("{}", proto.id());
        println!("  variants:");
        for v in proto.variants() {
            println!("    {:<24} {}", v.id, v.summary);
        }
        println!("  properties:");
        for p in proto.props() {
            println!("    {:<32} {:<10} {}", p.name, p.kind.as_str(), p.doc);
        }
        println!("  checks:");
        for (spec, bounds) in checks.iter().filter(|(s, _)| s.protocol == proto.id()) {
            let states = spec
                .unique_states
                .map(|n| format!("{n} states"))
                .unwrap_or_default();
            println!(
                "    {:<34} {:<16} {bounds}  {states}",
                spec.id(),
                match spec.liveness {
                    Some(l) => format!("{}+{}", spec.checker.as_str(), l.as_str()),
                    None => spec.checker.as_str().to_string(),
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses `I/N` (1-based).
fn parse_shard(s: &str) -> Result<(usize, usize), Fault> {
    let bad = || Fault::usage(format!("--shard `{s}`: expected I/N with 1 <= I <= N"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Keeps the checks the filters select; an unknown protocol or variant is a usage fault.
fn select(
    checks: Vec<(CheckSpec, String)>,
    filters: &[String],
) -> Result<Vec<(CheckSpec, String)>, Fault> {
    for f in filters {
        let (proto, variant) = match f.split_once('/') {
            Some((p, v)) => (p, Some(v)),
            None => (f.as_str(), None),
        };
        let Some(entry) = registry::find(proto) else {
            return Err(Fault::usage(format!(
                "unknown protocol `{proto}` (known: {})",
                known_protocols()
            )));
        };
        if let Some(v) = variant
            && !entry.variants().iter().any(|x| x.id == v)
        {
            let known: Vec<&str> = entry.variants().iter().map(|x| x.id).collect();
            return Err(Fault::usage(format!(
                "unknown variant `{proto}/{v}` (known: {})",
                known.join(", ")
            )));
        }
    }
    if filters.is_empty() {
        return Ok(checks);
    }
    Ok(checks
        .into_iter()
        .filter(|(c, _)| {
            filters.iter().any(|f| match f.split_once('/') {
                Some((p, v)) => c.protocol == p && c.variant == v,
                None => c.protocol == *f,
            })
        })
        .collect())
}

fn check(args: CheckArgs) -> Result<ExitCode, Fault> {
    let checks = load_checks(args.manifests.as_deref())?;
    let mut checks = select(checks, &args.filters)?;
    if let Some(s) = &args.shard {
        let (i, n) = parse_shard(s)?;
        checks = checks
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % n == i - 1)
            .map(|(_, c)| c)
            .collect();
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(Fault::usage("--threads must be at least 1".into()));
    }
    let timeout = match args.timeout {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            return Err(Fault::usage(format!(
                "--timeout {s}: expected a positive number of seconds"
            )));
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let interactive = std::io::stdout().is_terminal() && !args.json;
    let mut results: Vec<CheckResult> = Vec::with_capacity(checks.len());
    for (spec, _) in &checks {
        let proto = registry::find(&spec.protocol).expect("validated");
        let progress = Progress::default();
        let result = std::thread::scope(|scope| {
            if interactive {
                scope.spawn(|| report::show_progress(&spec.id(), &progress));
            }
            proto.run(spec, threads, timeout, &progress)
        });
        let mut result = result;
        for p in &mut result.properties {
            if let Some((file, md)) = &p.trace {
                let dir = args.out.join(spec.trace_dir());
                write_atomic(
                    &dir.join(format!("{}.json", p.property)),
                    file.to_json().as_bytes(),
                )?;
                let md_path = dir.join(format!("{}.md", p.property));
                write_atomic(&md_path, md.as_bytes())?;
                p.counterexample = Some(md_path.to_string_lossy().into_owned());
            }
        }
        results.push(result);
    }
    if let Some(path) = &args.junit {
        write_atomic(path, report::junit(&results).as_bytes())?;
    }
    if args.json {
        println!("{}", report::json(&results));
    } else {
        print!("{}", report::table(&results));
        // Asked about particular variants: show their counterexamples in full.
        if !args.filters.is_empty() && args.filters.iter().all(|f| f.contains('/')) {
            for p in results.iter().flat_map(|r| &r.properties) {
                if let (Some((file, _)), Some(path)) = (&p.trace, &p.counterexample) {
                    let proto = registry::find(&file.protocol).expect("a known protocol");
                    let text = proto
                        .render(file, coordlab_checks::trace::Format::Text, Some(path))
                        .map_err(|e| Fault::new(Path::new(path), e.to_string()))?;
                    println!("\n{text}");
                }
            }
        }
    }
    Ok(if results.iter().all(CheckResult::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads and parses a trace file; every fault names the file.
fn read_trace(path: &Path) -> Result<(TraceFile, Box<dyn registry::Entry>), Fault> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Fault::new(path, format!("cannot read: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Fault::new(path, format!("malformed trace: {e}")))?;
    if value.get("engine").and_then(|e| e.as_str()) == Some("shuttle") {
        return Err(Fault::new(
            path,
            "a shuttle schedule of the implementation, not a model trace: replay it with \
             `RUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle -- committed_counterexamples_replay`",
        ));
    }
    let file: TraceFile = serde_json::from_value(value)
        .map_err(|e| Fault::new(path, format!("malformed trace: {e}")))?;
    let proto = registry::find(&file.protocol).ok_or_else(|| {
        Fault::new(
            path,
            format!(
                "unknown protocol `{}` (known: {})",
                file.protocol,
                known_protocols()
            ),
        )
    })?;
    // A trace filed under counterexamples/<protocol>/<variant>/ must be that variant's.
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(at) = parts.iter().rposition(|p| p == "counterexamples")
        && let (Some(p), Some(v)) = (parts.get(at + 1), parts.get(at + 2))
        && parts.len() > at + 3
        && (*p != file.protocol || *v != file.variant)
    {
        return Err(Fault::new(
            path,
            format!(
                "the trace is for {}/{} but is filed under {p}/{v}",
                file.protocol, file.variant
            ),
        ));
    }
    Ok((file, proto))
}

fn show(path: &Path, format: Format) -> Result<ExitCode, Fault> {
    let (file, proto) = read_trace(path)?;
    let shown = path.to_string_lossy().replace('\\', "/");
    let out = proto
        .render(&file, format, Some(&shown))
        .map_err(|e| Fault::new(path, e.to_string()))?;
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn replay(path: &Path, on: Option<&str>) -> Result<ExitCode, Fault> {
    let (file, proto) = read_trace(path)?;
    let variant = match on {
        None => file.variant.clone(),
        Some(target) => {
            let (p, v) = target
                .split_once('/')
                .ok_or_else(|| Fault::usage(format!("--on `{target}`: expected PROTO/VARIANT")))?;
            if p != file.protocol {
                return Err(Fault::new(
                    path,
                    format!("the trace is for protocol `{}`, not `{p}`", file.protocol),
                ));
            }
            v.to_string()
        }
    };
    let id = format!("{}/{variant}", file.protocol);
    match proto
        .replay(&file, &variant)
        .map_err(|e| Fault::new(path, e.to_string()))?
    {
        Replay::Reproduced => {
            println!(
                "reproduced: {} violates {} after {} steps, every step enabled and matching",
                id,
                file.property,
                file.steps.len() - 1
            );
            Ok(ExitCode::SUCCESS)
        }
        Replay::Diverged(why) => {
            println!("not reproduced on {id}: {why}");
            Ok(ExitCode::from(1))
        }
    }
}

fn explore(target: &str, port: u16) -> Result<ExitCode, Fault> {
    let (p, v) = target
        .split_once('/')
        .ok_or_else(|| Fault::usage(format!("`{target}`: expected PROTO/VARIANT")))?;
    let proto = registry::find(p).ok_or_else(|| {
        Fault::usage(format!(
            "unknown protocol `{p}` (known: {})",
            known_protocols()
        ))
    })?;
    if !proto.variants().iter().any(|x| x.id == v) {
        let known: Vec<&str> = proto.variants().iter().map(|x| x.id).collect();
        return Err(Fault::usage(format!(
            "unknown variant `{p}/{v}` (known: {})",
            known.join(", ")
        )));
    }
    // The Explorer shows the bounds of the suite's check of this variant.
    let Some((spec, _)) = load_checks(None)?
        .into_iter()
        .find(|(s, _)| s.protocol == p && s.variant == v)
    else {
        return Err(Fault::usage(format!(
            "no check of {p}/{v} in the manifests: its bounds are not known"
        )));
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        Fault::usage(format!(
            "--port {port}: cannot listen on 127.0.0.1:{port}: {e} (pick another with --port, or --port 0 for any free port)"
        ))
    })?;
    let address = listener
        .local_addr()
        .map_err(|e| Fault::usage(format!("--port {port}: {e}")))?;
    println!(
        "Explorer for {} at http://{address}/ (Ctrl-C to stop)",
        spec.id()
    );
    proto.explore(&spec, listener).map_err(Fault::usage)?;
    Ok(ExitCode::SUCCESS)
}

fn simulate(
    target: &str,
    seeds: u64,
    depth: usize,
    out: Option<&Path>,
    manifests: Option<&Path>,
) -> Result<ExitCode, Fault> {
    let (p, v) = target
        .split_once('/')
        .ok_or_else(|| Fault::usage(format!("`{target}`: expected PROTO/VARIANT")))?;
    let checks = select(load_checks(manifests)?, &[target.to_string()])?;
    let Some((spec, _)) = checks.into_iter().next() else {
        return Err(Fault::usage(format!(
            "no check of {p}/{v} in the manifests: its bounds are not known"
        )));
    };
    if depth == 0 || seeds == 0 {
        return Err(Fault::usage(
            "--seeds and --depth must be at least 1".into(),
        ));
    }
    let proto = registry::find(p).expect("selected");
    let sim = proto.simulate(&spec, seeds, depth);
    println!(
        "{}: {seeds} walks of at most {depth} steps, {} steps in all\n",
        sim.id, sim.steps
    );
    let width = sim.rows.iter().map(|r| r.property.len()).max().unwrap_or(8);
    let mut mismatches = 0;
    for r in &sim.rows {
        let mark = match r.matches {
            Some(true) => "ok",
            Some(false) => {
                mismatches += 1;
                "MISMATCH"
            }
            None => "",
        };
        println!(
            "{:<width$}  {:<10}  expected {:<8}  {:<40}  {mark}",
            r.property,
            r.kind.as_str(),
            r.expected.as_str(),
            r.outcome
        );
    }
    for r in &sim.rows {
        if let Some((file, md, text)) = &r.trace {
            if let Some(dir) = out {
                let dir = dir.join(spec.trace_dir());
                write_atomic(
                    &dir.join(format!("{}.json", r.property)),
                    file.to_json().as_bytes(),
                )?;
                write_atomic(&dir.join(format!("{}.md", r.property)), md.as_bytes())?;
            }
            println!("\n{text}");
        }
    }
    println!(
        "\n{}",
        if mismatches == 0 {
            "every simulated property as expected (a walk that finds nothing proves nothing)"
                .to_string()
        } else {
            format!("{mismatches} mismatches")
        }
    );
    Ok(if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
