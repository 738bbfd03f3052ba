//! coordlab's Raft core against tikv's raft-rs (`raft` 0.7, `RawNode` over its `MemStorage`),
//! on the same deterministic in-memory message loop, in one run.
//!
//! The loop: 3 servers, no faults, no ticks while measuring (no timeouts, no heartbeats).
//! Each server has a queue of messages to it. A round takes every queue as it stands at the
//! round's start; then each server in id order steps its messages and handles its ready the
//! same way for both libraries: make the write durable in its in-memory store (coordlab:
//! `MemStorage::persist`; raft-rs: `MemStorage::wl().append` and `set_hardstate`), then
//! queue the messages for their receivers (delivered next round), then apply the committed
//! entries. raft-rs lets a leader send before it persists (the `messages` / the
//! `persisted_messages` of its `Ready`); here both libraries persist first, the order that
//! is safe for both. Applying an entry checks that it carries the next proposal's sequence
//! number (each proposal committed once, in order) and folds its bytes into a checksum.
//!
//! Both clusters start with server 1 campaigning (coordlab: `campaign_now`; raft-rs:
//! `campaign`) and run until nothing is left to do; both leaders then have their term's
//! empty entry committed. Proposals are 16 bytes: an 8-byte sequence number and 8 bytes
//! derived from it.
//!
//! Settings: coordlab `Config::new` with `record_events = false`, `noop_on_election` on,
//! `max_entries_per_message = 64`, heartbeat 3 ticks, election timeout 10..=20 ticks. raft-rs
//! `Config` with `election_tick = 10`, `heartbeat_tick = 3`, `max_size_per_msg = 1 MiB`
//! (TiKV's default; raft-rs's own default, 0, means one entry per message), the default
//! `max_inflight_msgs = 256`, no pre-vote, no check-quorum. With batches of 64 proposals of 16
//! bytes, a batch fits one message in both. The variants of raft-rs:
//!
//! - `raft-rs`: as above. raft-rs sends on every `propose` (coordlab when the leader's ready
//!   is taken), so a batch goes to a follower in 64 messages of one entry, and the leader
//!   sends the followers the new commit index whenever it advances (`skip_bcast_commit`
//!   off): 512 messages delivered a batch.
//! - `raft-rs[batch_append]`: `batch_append` on: the appends queued for one follower merge
//!   into one message; 8 messages a batch.
//! - `raft-rs[batch_append+skip_bcast_commit]`: and `skip_bcast_commit` on: the followers
//!   learn the commit index from the next append, as coordlab's do; 4 messages a batch, the
//!   same as coordlab (one request and one response per follower).
//!
//! The groups:
//!
//! - `raft_throughput_64`: the leader proposes 64 entries, then rounds run until the leader
//!   has applied all 64; reported per batch (throughput in proposals/s). Messages still in
//!   flight when the batch is applied (raft-rs without `skip_bcast_commit` sends the
//!   followers the new commit index; coordlab's followers learn it from the next append)
//!   carry over to the next batch.
//! - `raft_commit_latency`: from a cluster with nothing in flight, the leader proposes one
//!   entry and rounds run until the leader applies it; only that is timed (two clock reads
//!   included). It takes 3 rounds in both. raft-rs with and without `skip_bcast_commit`
//!   (`batch_append` changes nothing for a single entry).
//!
//! Both rebuild their clusters (not timed) every 65,536 proposals, so the logs (never
//! compacted) stay small. Before measuring, each cluster runs a correctness guard: batches
//! and single proposals, then a heartbeat so the followers learn the last commit index, and
//! every server of every cluster must have applied every proposal exactly once, in order,
//! with the same checksum as the proposals made.
//!
//! Run: `cargo bench -p coordlab-impls --bench raft` (about 40 seconds on 2 cores after the
//! build).

// raft-rs is not a dependency of the loom and shuttle builds (impls/Cargo.toml says why):
// there this benchmark is empty.
#[cfg(any(loom, shuttle))]
fn main() {}

#[cfg(not(any(loom, shuttle)))]
criterion::criterion_main!(bench::raft_benches);

#[cfg(not(any(loom, shuttle)))]
mod bench {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use coordlab_impls::raft::{
        Config, Durable, Envelope, MemStorage, NodeId, Payload, RaftCore, Role, Storage,
    };
    use criterion::{Criterion, Throughput, criterion_group};
    use raft::eraftpb::{ConfState, Entry as RrEntry, Message as RrMessage};
    use raft::storage::MemStorage as RrStorage;
    use raft::{RawNode, StateRole};

    const SERVERS: usize = 3;
    const BATCH: u64 = 64;
    const PAYLOAD: usize = 16;
    /// Proposals a cluster takes before the benchmark builds a fresh one.
    const REBUILD_AFTER: u64 = 1 << 16;
    /// A loop that needs more rounds than this is broken.
    const MAX_ROUNDS: usize = 1_000;

    /// Proposal `seq`'s bytes.
    fn payload(seq: u64) -> Vec<u8> {
        let mut data = Vec::with_capacity(PAYLOAD);
        data.extend_from_slice(&seq.to_le_bytes());
        data.extend_from_slice(&seq.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        data
    }

    /// One server's state machine: how many proposals it applied and a checksum of their bytes.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    struct Applied {
        count: u64,
        checksum: u64,
    }

    impl Applied {
        /// Applies one proposal; panics unless it is the next one in sequence (so none is lost,
        /// applied twice or out of order).
        fn apply(&mut self, data: &[u8]) {
            let seq = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
            assert_eq!(seq, self.count, "proposal applied out of order or twice");
            for word in data.chunks_exact(8) {
                let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                self.checksum = (self.checksum ^ w).wrapping_mul(0x0000_0100_0000_01B3);
            }
            self.count += 1;
        }
    }

    /// What the loop needs of a 3-server cluster of either library.
    trait Cluster {
        /// A new cluster whose server 1 has won the election and has nothing left to do.
        fn elected() -> Self;
        /// The leader (server 1) proposes `data`.
        fn propose(&mut self, data: Vec<u8>);
        /// One round (module docs); whether any server had anything to do.
        fn round(&mut self) -> bool;
        /// The leader ticks until it has sent a heartbeat.
        fn heartbeat(&mut self);
        /// Each server's state machine.
        fn applied(&self) -> [Applied; SERVERS];
        /// Messages delivered so far.
        fn delivered(&self) -> u64;

        /// Proposals the leader has applied.
        fn leader_applied(&self) -> u64 {
            self.applied()[0].count
        }

        /// Runs rounds until the leader has applied `count` proposals; returns how many.
        fn drive_until_applied(&mut self, count: u64) -> usize {
            let mut rounds = 0;
            while self.leader_applied() < count {
                self.round();
                rounds += 1;
                assert!(
                    rounds <= MAX_ROUNDS,
                    "not committed after {MAX_ROUNDS} rounds"
                );
            }
            rounds
        }

        /// Runs rounds until no server has anything to do.
        fn settle(&mut self) {
            let mut rounds = 0;
            while self.round() {
                rounds += 1;
                assert!(rounds <= MAX_ROUNDS, "still busy after {MAX_ROUNDS} rounds");
            }
        }
    }

    // ---- coordlab ----

    struct CoordlabServer {
        core: RaftCore,
        storage: MemStorage,
        applied: Applied,
    }

    struct Coordlab {
        servers: Vec<CoordlabServer>,
        /// Messages to server `i + 1`, delivered next round.
        queues: Vec<Vec<Envelope>>,
        /// The queues being delivered this round (kept to reuse their allocations).
        delivering: Vec<Vec<Envelope>>,
        delivered: u64,
    }

    fn coordlab_config(id: u32) -> Config {
        let servers = (1..=SERVERS as u32).map(NodeId).collect();
        let mut config = Config::new(NodeId(id), servers);
        config.record_events = false;
        config.noop_on_election = true;
        config.max_entries_per_message = 64;
        config.heartbeat_interval = 3;
        config.election_timeout_min = 10;
        config.election_timeout_max = 20;
        config
    }

    impl Cluster for Coordlab {
        fn elected() -> Self {
            let servers = (1..=SERVERS as u32)
                .map(|id| CoordlabServer {
                    core: RaftCore::new(coordlab_config(id), Durable::default())
                        .expect("a valid configuration"),
                    storage: MemStorage::new(),
                    applied: Applied::default(),
                })
                .collect();
            let mut cluster = Coordlab {
                servers,
                queues: vec![Vec::new(); SERVERS],
                delivering: vec![Vec::new(); SERVERS],
                delivered: 0,
            };
            assert!(cluster.servers[0].core.campaign_now());
            cluster.settle();
            assert_eq!(cluster.servers[0].core.role(), Role::Leader);
            assert!(
                cluster.servers[0].core.commit_index() >= 1,
                "no-op committed"
            );
            cluster
        }

        fn propose(&mut self, data: Vec<u8>) {
            self.servers[0]
                .core
                .propose(data)
                .expect("server 1 leads throughout");
        }

        fn round(&mut self) -> bool {
            std::mem::swap(&mut self.queues, &mut self.delivering);
            let mut busy = false;
            for (i, server) in self.servers.iter_mut().enumerate() {
                for envelope in self.delivering[i].drain(..) {
                    busy = true;
                    self.delivered += 1;
                    server.core.step(envelope.from, envelope.message);
                }
                let ready = server.core.ready();
                if ready.is_empty() {
                    continue;
                }
                busy = true;
                if !ready.persist.is_empty() {
                    server
                        .storage
                        .persist(&ready.persist)
                        .expect("in-memory storage");
                }
                for envelope in ready.messages {
                    self.queues[envelope.to.0 as usize - 1].push(envelope);
                }
                for entry in &ready.committed {
                    if let Payload::Data(data) = &entry.payload {
                        server.applied.apply(data);
                    }
                }
            }
            busy
        }

        fn heartbeat(&mut self) {
            for _ in 0..self.servers[0].core.config().heartbeat_interval {
                self.servers[0].core.tick();
            }
        }

        fn applied(&self) -> [Applied; SERVERS] {
            std::array::from_fn(|i| self.servers[i].applied)
        }

        fn delivered(&self) -> u64 {
            self.delivered
        }
    }

    // ---- raft-rs ----

    struct RaftRsServer {
        node: RawNode<RrStorage>,
        applied: Applied,
    }

    struct RaftRs {
        servers: Vec<RaftRsServer>,
        queues: Vec<Vec<RrMessage>>,
        delivering: Vec<Vec<RrMessage>>,
        delivered: u64,
    }

    /// raft-rs with `batch_append` and `skip_bcast_commit` on or off (module docs); the const
    /// parameters keep the variants behind one `Cluster::elected`.
    struct RaftRsCluster<const BATCH_APPEND: bool, const SKIP_BCAST: bool = false>(RaftRs);

    fn raft_rs_config(id: u64, batch_append: bool, skip_bcast_commit: bool) -> raft::Config {
        raft::Config {
            id,
            election_tick: 10,
            heartbeat_tick: 3,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            batch_append,
            skip_bcast_commit,
            ..Default::default()
        }
    }

    /// Queues `messages` for their receivers.
    fn queue_rr(queues: &mut [Vec<RrMessage>], messages: Vec<RrMessage>) {
        for m in messages {
            queues[m.to as usize - 1].push(m);
        }
    }

    fn apply_rr(applied: &mut Applied, entries: Vec<RrEntry>) {
        for entry in entries {
            // A new leader's empty entry carries no data.
            if !entry.get_data().is_empty() {
                applied.apply(entry.get_data());
            }
        }
    }

    impl<const BATCH_APPEND: bool, const SKIP_BCAST: bool> Cluster
        for RaftRsCluster<BATCH_APPEND, SKIP_BCAST>
    {
        fn elected() -> Self {
            let logger = slog::Logger::root(slog::Discard, slog::o!());
            let voters: Vec<u64> = (1..=SERVERS as u64).collect();
            let servers = (1..=SERVERS as u64)
                .map(|id| {
                    let storage =
                        RrStorage::new_with_conf_state(ConfState::from((voters.clone(), vec![])));
                    let node = RawNode::new(
                        &raft_rs_config(id, BATCH_APPEND, SKIP_BCAST),
                        storage,
                        &logger,
                    )
                    .expect("a valid configuration");
                    RaftRsServer {
                        node,
                        applied: Applied::default(),
                    }
                })
                .collect();
            let mut cluster = RaftRsCluster(RaftRs {
                servers,
                queues: vec![Vec::new(); SERVERS],
                delivering: vec![Vec::new(); SERVERS],
                delivered: 0,
            });
            cluster.0.servers[0]
                .node
                .campaign()
                .expect("a follower campaigns");
            cluster.settle();
            assert_eq!(cluster.0.servers[0].node.raft.state, StateRole::Leader);
            assert!(cluster.0.servers[0].node.raft.raft_log.committed >= 1);
            cluster
        }

        fn propose(&mut self, data: Vec<u8>) {
            self.0.servers[0]
                .node
                .propose(Vec::new(), data)
                .expect("server 1 leads throughout");
        }

        fn round(&mut self) -> bool {
            let c = &mut self.0;
            std::mem::swap(&mut c.queues, &mut c.delivering);
            let mut busy = false;
            for (i, server) in c.servers.iter_mut().enumerate() {
                for m in c.delivering[i].drain(..) {
                    busy = true;
                    c.delivered += 1;
                    server.node.step(m).expect("a message from a known peer");
                }
                if !server.node.has_ready() {
                    continue;
                }
                busy = true;
                let node = &mut server.node;
                let mut ready = node.ready();
                // Persist.
                if !ready.entries().is_empty() {
                    node.store()
                        .wl()
                        .append(ready.entries())
                        .expect("in-memory storage");
                }
                if let Some(hs) = ready.hs() {
                    node.store().wl().set_hardstate(hs.clone());
                }
                // Send.
                queue_rr(&mut c.queues, ready.take_messages());
                queue_rr(&mut c.queues, ready.take_persisted_messages());
                // Apply.
                apply_rr(&mut server.applied, ready.take_committed_entries());
                let mut light = node.advance(ready);
                if let Some(commit) = light.commit_index() {
                    node.store().wl().mut_hard_state().set_commit(commit);
                }
                queue_rr(&mut c.queues, light.take_messages());
                apply_rr(&mut server.applied, light.take_committed_entries());
                node.advance_apply();
            }
            busy
        }

        fn heartbeat(&mut self) {
            let node = &mut self.0.servers[0].node;
            for _ in 0..node.raft.heartbeat_timeout() {
                node.tick();
            }
        }

        fn applied(&self) -> [Applied; SERVERS] {
            std::array::from_fn(|i| self.0.servers[i].applied)
        }

        fn delivered(&self) -> u64 {
            self.0.delivered
        }
    }

    // ---- The workloads ----

    /// A cluster and the number of proposals it has taken.
    struct Run<C> {
        cluster: C,
        proposed: u64,
    }

    impl<C: Cluster> Run<C> {
        fn new() -> Self {
            Run {
                cluster: C::elected(),
                proposed: 0,
            }
        }

        /// A fresh cluster if this one has taken enough proposals.
        fn maybe_rebuild(&mut self) {
            if self.proposed >= REBUILD_AFTER {
                *self = Run::new();
            }
        }

        /// Proposes a batch and drives until the leader applied it.
        fn batch(&mut self) -> usize {
            for _ in 0..BATCH {
                self.cluster.propose(payload(self.proposed));
                self.proposed += 1;
            }
            self.cluster.drive_until_applied(self.proposed)
        }

        /// Proposes one entry and drives until the leader applied it.
        fn single(&mut self) -> usize {
            self.cluster.propose(payload(self.proposed));
            self.proposed += 1;
            self.cluster.drive_until_applied(self.proposed)
        }
    }

    /// The checksum every server must reach after applying proposals `0..count`.
    fn expected(count: u64) -> Applied {
        let mut applied = Applied::default();
        for seq in 0..count {
            applied.apply(&payload(seq));
        }
        applied
    }

    /// The correctness guard: batches, then single proposals from a quiet cluster, then a
    /// heartbeat; every server must have applied every proposal once, in order. Returns the
    /// rounds a single proposal took to commit.
    fn guard<C: Cluster>(name: &str) -> usize {
        const BATCHES: u64 = 32;
        const SINGLES: u64 = 16;
        let mut run = Run::<C>::new();
        let start = run.cluster.delivered();
        for _ in 0..BATCHES {
            run.batch();
        }
        run.cluster.settle();
        let per_batch = (run.cluster.delivered() - start) as f64 / BATCHES as f64;
        let mut rounds = Vec::new();
        let start = run.cluster.delivered();
        for _ in 0..SINGLES {
            run.cluster.settle();
            rounds.push(run.single());
        }
        run.cluster.settle();
        let per_single = (run.cluster.delivered() - start) as f64 / SINGLES as f64;
        run.cluster.heartbeat();
        run.cluster.settle();
        let want = expected(run.proposed);
        assert_eq!(want.count, BATCHES * BATCH + SINGLES);
        for (i, applied) in run.cluster.applied().iter().enumerate() {
            assert_eq!(*applied, want, "{name}: server {} applied", i + 1);
        }
        assert!(rounds.iter().all(|&r| r == rounds[0]), "{name}: {rounds:?}");
        println!(
            "{name}: guard passed ({} proposals applied on all {SERVERS} servers, in order); \
             {per_batch:.1} messages a batch; a single proposal commits in {} rounds, {per_single:.1} messages",
            want.count, rounds[0]
        );
        rounds[0]
    }

    fn throughput<C: Cluster>(iters: u64) -> Duration {
        let mut run = Run::<C>::new();
        let mut total = Duration::ZERO;
        let mut start = Instant::now();
        for _ in 0..iters {
            if run.proposed >= REBUILD_AFTER {
                total += start.elapsed();
                run.maybe_rebuild();
                start = Instant::now();
            }
            black_box(run.batch());
        }
        total += start.elapsed();
        black_box(run.cluster.applied());
        total
    }

    fn latency<C: Cluster>(iters: u64) -> Duration {
        let mut run = Run::<C>::new();
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            run.maybe_rebuild();
            run.cluster.settle();
            let start = Instant::now();
            black_box(run.single());
            total += start.elapsed();
        }
        black_box(run.cluster.applied());
        total
    }

    fn benches(c: &mut Criterion) {
        guard::<Coordlab>("coordlab");
        guard::<RaftRsCluster<false>>("raft-rs");
        guard::<RaftRsCluster<true>>("raft-rs[batch_append]");
        guard::<RaftRsCluster<true, true>>("raft-rs[batch_append+skip_bcast_commit]");

        let mut group = c.benchmark_group("raft_throughput_64");
        group
            .throughput(Throughput::Elements(BATCH))
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        group.bench_function("coordlab", |b| b.iter_custom(throughput::<Coordlab>));
        group.bench_function("raft-rs", |b| {
            b.iter_custom(throughput::<RaftRsCluster<false>>)
        });
        group.bench_function("raft-rs[batch_append]", |b| {
            b.iter_custom(throughput::<RaftRsCluster<true>>)
        });
        group.bench_function("raft-rs[batch_append+skip_bcast_commit]", |b| {
            b.iter_custom(throughput::<RaftRsCluster<true, true>>)
        });
        group.finish();

        let mut group = c.benchmark_group("raft_commit_latency");
        group
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        group.bench_function("coordlab", |b| b.iter_custom(latency::<Coordlab>));
        group.bench_function("raft-rs", |b| {
            b.iter_custom(latency::<RaftRsCluster<false>>)
        });
        group.bench_function("raft-rs[batch_append+skip_bcast_commit]", |b| {
            b.iter_custom(latency::<RaftRsCluster<true, true>>)
        });
        group.finish();
    }

    criterion_group!(raft_benches, benches);
}
