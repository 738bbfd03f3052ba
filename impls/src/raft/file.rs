//! A file-backed [`Storage`]: a server's hard state and log in one append-only write-ahead
//! log, each [`Persist`] one checksummed record made durable (`fdatasync`) before
//! [`persist`](Storage::persist) returns. This is the "persistent state on all servers" of
//! Figure 2 of the Raft paper (`currentTerm`, `votedFor`, `log[]`), "updated on stable
//! storage before responding to RPCs".
//!
//! # Files
//!
//! The store's directory holds [`LOG_FILE`] (the write-ahead log), [`LOCK_FILE`] (locked
//! while a [`FileStorage`] has the directory open, so two stores never append to one log) and,
//! only while the log is being rewritten, `raft.wal.tmp`.
//!
//! # Format of the log
//!
//! The 8 bytes [`MAGIC`], then records, each starting at a multiple of 8 bytes from the start
//! of the file:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | `len`: the body's length in bytes |
//! | 4 | CRC-32 of the 4 bytes of `len` |
//! | 4 | CRC-32 of the body and the padding |
//! | `len` | the body: one [`Persist`] |
//! | 0–7 | zero bytes, up to the next multiple of 8 |
//!
//! The body is a flags byte (bit 0: a hard state follows; bit 1: entries follow; no other
//! bit, and never 0); if bit 0, the hard state: `term` u64, a vote tag u8 (0 no vote, 1 a
//! vote) and the candidate u32 (0 with no vote); if bit 1, the entries: the first one's
//! index u64, their count u32 (at least 1), then for each its term u64, a payload tag u8 (0
//! [`Payload::Noop`], 1 [`Payload::Data`]) and, for data, its length u32 and its bytes. The
//! entries' indices are the first one's, plus 1, plus 2, …; applying a record is applying
//! its [`Persist`] (entries from index `i` replace the stored ones from `i` on). Integers
//! are little-endian. CRC-32 is the IEEE 802.3 polynomial (the checksum of zlib, PNG and
//! gzip), computed by the `crc32fast` crate.
//!
//! Because the length has its own checksum, a damaged length is never trusted; because
//! records start at multiples of 8, the 8 bytes of a length and its checksum never straddle
//! two disk sectors, so a crash leaves them either written or not.
//!
//! # Recovery
//!
//! [`FileStorage::open`] replays the records in order. At the first record that does not
//! check out it decides between a torn write and damage:
//!
//! - **A torn last write** (the process or the machine died inside a `persist`, which only
//!   ever appends one record at the end): the file ends inside a record's header; or the
//!   record's length checks out and the record runs past the end of the file, or ends at
//!   the end of the file and fails its checksum; or the header fails its checksum and no
//!   whole record follows anywhere after it. The record is discarded and the file truncated back to the last whole record
//!   ([`FileStorage::discarded_tail`] says how many bytes went). That write had not returned
//!   `Ok`, so the contract allows losing it.
//! - **Damage** anywhere else is [`StorageError::Corrupt`] with the file and the byte offset
//!   of the bad record: a record whose checksum fails with more records after it, a header
//!   that fails its checksum with a whole record after it, a bad [`MAGIC`], a body that
//!   checks out but does not decode, or a record whose entries do not fit the log before it.
//!   The store does not open; nothing is truncated.
//!
//! On open, a log of at least 64 KiB that is at least twice as long as its contents need is
//! rewritten to those contents (written to `raft.wal.tmp`, fsynced, renamed over the log, the
//! directory fsynced), so overwritten suffixes and old hard states do not pile up across
//! restarts. [`FileStorage::compact`] does the same on demand.
//!
//! # Limits
//!
//! - **What a checksum cannot tell.** A file cut short (by anything other than a crash inside
//!   `persist`) looks like a torn write: everything from the cut on is dropped, including
//!   writes that had returned `Ok`. Damage inside the *last* record likewise loses the last
//!   write rather than failing, since it is indistinguishable from a torn one. A CRC-32
//!   misses about one random corruption in 2³².
//! - **[`Fsync::Never`] is unsafe** (see there).
//! - **Growth.** The log is rewritten only on open or by [`FileStorage::compact`]; between
//!   them it grows by one record per non-empty `persist`.
//! - **Memory.** `open`, `load` and `compact` read the whole log into memory.
//! - **Directory durability.** A directory that `open` creates is made durable by fsyncing
//!   its parent; the parent's own entry is assumed durable. Directories are fsynced on Unix
//!   only (elsewhere the standard library cannot open a directory to sync it).
//! - **The lock** is advisory (`File::try_lock`, `flock` on Unix): it keeps out other
//!   `FileStorage`s, in this process or another, not other programs; on a file system
//!   without locks `open` fails with [`StorageError::Io`] (`op` `lock`).
//! - **Write failures.** After a failed write, fsync or rewrite the state of the log's tail is
//!   unknown (the kernel may have dropped the dirty pages it failed to write), so the store
//!   refuses every later call with the first error's operation; reopening it replays what
//!   reached the disk.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::storage::{Storage, StorageError, validate};
use super::types::{Durable, Entry, HardState, Index, NodeId, Payload, Persist};

/// The write-ahead log's file name in the store's directory.
pub const LOG_FILE: &str = "raft.wal";
/// The lock file's name in the store's directory.
pub const LOCK_FILE: &str = "raft.lock";
/// A log being rewritten; removed on open if a crash left it behind.
const TMP_FILE: &str = "raft.wal.tmp";
/// The first 8 bytes of a log: the format's name and version 1.
pub const MAGIC: [u8; 8] = *b"RAFTWAL\x01";
/// A record's header: `len`, the CRC-32 of `len`, the CRC-32 of the body and padding.
const HEADER: usize = 12;
/// Records start at multiples of this many bytes.
const ALIGN: usize = 8;
/// `open` rewrites a log only from this many bytes on (and only if its contents take at most
/// half of them): below it, the rewrite would cost more than the bytes it saves.
const REWRITE_MIN: u64 = 64 * 1024;
/// When the log is rewritten, a record holds entries until their payloads pass this many
/// bytes, so no one record has to be as large as the whole log.
const REWRITE_CHUNK: usize = 1 << 20;

const FLAG_HARD_STATE: u8 = 1;
const FLAG_ENTRIES: u8 = 2;
const PAYLOAD_NOOP: u8 = 0;
const PAYLOAD_DATA: u8 = 1;

/// When [`FileStorage`] forces its writes to the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fsync {
    /// `fdatasync` the log before every [`persist`](Storage::persist) returns, and fsync the
    /// directory when a file is created or renamed: a write that returned `Ok` survives a
    /// power failure. What Raft requires.
    #[default]
    Always,
    /// Never fsync. **Unsafe for Raft**: a write that returned `Ok` is in the operating
    /// system's page cache only, and a power failure or an OS crash can lose it (a process
    /// crash cannot), so a server could forget its vote and vote twice in one term (breaking
    /// Election Safety), or forget entries a leader counted as replicated (breaking State
    /// Machine Safety); it can also leave damage in the middle of the log, which `open`
    /// reports as [`StorageError::Corrupt`]. For measuring what fsync costs, and for tests.
    Never,
}

/// A [`Storage`] in a directory: one append-only write-ahead log (the module docs give the
/// format, the recovery rules and the limits).
///
/// ```
/// use coordlab_impls::raft::{Entry, FileStorage, HardState, NodeId, Payload, Persist, Storage};
///
/// let dir = tempfile::tempdir()?;
/// let mut store = FileStorage::open(dir.path())?;
/// store.persist(&Persist {
///     hard_state: Some(HardState { term: 2, voted_for: Some(NodeId(1)) }),
///     entries: vec![Entry { term: 2, index: 1, payload: Payload::Data(b"x=1".to_vec()) }],
/// })?;
///
/// // The server restarts: a new store on the same directory finds what was written.
/// drop(store);
/// let mut store = FileStorage::open(dir.path())?;
/// let durable = store.load()?;
/// assert_eq!(durable.hard_state.voted_for, Some(NodeId(1)));
/// assert_eq!(durable.log.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    log_path: PathBuf,
    /// The log, opened for appending.
    log: File,
    /// Locked for as long as the store lives; closing it (drop, crash) unlocks.
    _lock: File,
    fsync: Fsync,
    /// The log's length in bytes: the end of its last whole record.
    end: u64,
    /// The log's last index (0: empty).
    last: Index,
    /// Bytes of a torn last write that `open` cut off.
    discarded: u64,
    /// The operation whose failure left the log's tail unknown.
    failed: Option<&'static str>,
}

impl FileStorage {
    /// Opens the store in `dir` with [`Fsync::Always`], creating the directory and an empty
    /// log if there are none, recovering from a torn last write, and compacting the log if it
    /// is 64 KiB or more and at least twice as long as its contents.
    ///
    /// Errors: [`StorageError::Io`] if a file cannot be created, read, written or synced, or
    /// if another store holds the directory's lock (`op` is `lock`, the kind
    /// [`WouldBlock`](std::io::ErrorKind::WouldBlock)); [`StorageError::Corrupt`] if the log
    /// is damaged other than by a torn last write.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage, StorageError> {
        FileStorage::open_with(dir, Fsync::Always)
    }

    /// [`open`](FileStorage::open) with a choice of when to fsync ([`Fsync::Never`] is
    /// unsafe).
    pub fn open_with(dir: impl AsRef<Path>, fsync: Fsync) -> Result<FileStorage, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
            if fsync == Fsync::Always {
                let parent = match dir.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
                sync_dir(parent).map_err(io_error("fsync", parent))?;
            }
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StorageError::Io {
                    op: "lock",
                    path: lock_path.display().to_string(),
                    source: io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "another store has this directory open",
                    ),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_error("lock", &lock_path)(e)),
        }
        // A rewrite that a crash interrupted before its rename: the log is still whole.
        let tmp = dir.join(TMP_FILE);
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &tmp)(e)),
        }
        let log_path = dir.join(LOG_FILE);
        let exists = log_path.try_exists().map_err(io_error("open", &log_path))?;
        if !exists {
            // Created by a rename, so a crash never leaves a log without its magic.
            write_log_atomically(&dir, &MAGIC, fsync)?;
        }
        let bytes = fs::read(&log_path).map_err(io_error("read", &log_path))?;
        let replayed = replay(&bytes, &log_path)?;
        let discarded = (bytes.len() - replayed.end) as u64;
        if discarded > 0 {
            let file = OpenOptions::new()
                .write(true)
                .open(&log_path)
                .map_err(io_error("open", &log_path))?;
            file.set_len(replayed.end as u64)
                .map_err(io_error("truncate", &log_path))?;
            if fsync == Fsync::Always {
                file.sync_data().map_err(io_error("fsync", &log_path))?;
            }
        }
        let mut end = replayed.end as u64;
        if replayed.records > 1 && end >= REWRITE_MIN {
            let rewritten = encode_log(&replayed.state)?;
            if rewritten.len() as u64 * 2 <= end {
                write_log_atomically(&dir, &rewritten, fsync)?;
                end = rewritten.len() as u64;
            }
        }
        let log = open_append(&log_path)?;
        Ok(FileStorage {
            dir,
            log_path,
            log,
            _lock: lock,
            fsync,
            end,
            last: replayed.state.log.len() as Index,
            discarded,
            failed: None,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many bytes of a torn last write [`open`](FileStorage::open) cut off the log (0
    /// when the log ended with a whole record).
    pub fn discarded_tail(&self) -> u64 {
        self.discarded
    }

    /// Rewrites the log to its current contents (one record per megabyte or so of entries,
    /// the hard state in the first), atomically: written beside the log, fsynced, renamed over
    /// it, the directory fsynced (with [`Fsync::Always`]). A crash at any point leaves either
    /// the old log or the new one.
    ///
    /// Errors: as [`load`](Storage::load), and [`StorageError::Io`] if writing, syncing or
    /// renaming fails (every later call then fails too, as after a failed write).
    pub fn compact(&mut self) -> Result<(), StorageError> {
        let state = self.load()?;
        let rewritten = encode_log(&state)?;
        // After a failure here the log may or may not have been replaced, and the handle may
        // point at a file no longer in the directory: refuse everything until reopened.
        let reopened = write_log_atomically(&self.dir, &rewritten, self.fsync)
            .and_then(|()| open_append(&self.log_path));
        match reopened {
            Ok(log) => {
                self.log = log;
                self.end = rewritten.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.failed = Some("compact");
                Err(e)
            }
        }
    }

    fn usable(&self) -> Result<(), StorageError> {
        match self.failed {
            None => Ok(()),
            Some(op) => Err(StorageError::Io {
                op,
                path: self.log_path.display().to_string(),
                source: io::Error::other(
                    "an earlier write to the log failed and left its end unknown; reopen the store",
                ),
            }),
        }
    }
}

impl Storage for FileStorage {
    /// Reads and replays the whole log.
    ///
    /// Errors: [`StorageError::Io`] if it cannot be read, or after a failed write;
    /// [`StorageError::Corrupt`] if it is damaged, or if it no longer ends where this store's
    /// last write did (something else changed it).
    fn load(&mut self) -> Result<Durable, StorageError> {
        self.usable()?;
        let bytes = fs::read(&self.log_path).map_err(io_error("read", &self.log_path))?;
        let replayed = replay(&bytes, &self.log_path)?;
        if replayed.end as u64 != self.end || bytes.len() as u64 != self.end {
            return Err(StorageError::Corrupt {
                path: self.log_path.display().to_string(),
                offset: self.end.min(replayed.end as u64),
                why: format!(
                    "the log changed under the open store: it is {} bytes with whole records up \
                     to byte {}, but the store's last write ended at byte {}",
                    bytes.len(),
                    replayed.end,
                    self.end
                ),
            });
        }
        Ok(replayed.state)
    }

    /// Appends `update` as one record and, with [`Fsync::Always`], `fdatasync`s the log. An
    /// empty update writes nothing.
    ///
    /// Errors: [`StorageError::BadWrite`] for a write the contract refuses (nothing is
    /// written), or one too large for a record (a body over 4 GiB − 1 bytes);
    /// [`StorageError::Io`] if the write or the fsync fails (every later call then fails too).
    fn persist(&mut self, update: &Persist) -> Result<(), StorageError> {
        self.usable()?;
        validate(self.last, update)?;
        if update.is_empty() {
            return Ok(());
        }
        let mut record = Vec::new();
        encode_record(&mut record, update.hard_state, &update.entries)?;
        if let Err(e) = self.log.write_all(&record) {
            self.failed = Some("write");
            return Err(io_error("write", &self.log_path)(e));
        }
        if self.fsync == Fsync::Always
            && let Err(e) = self.log.sync_data()
        {
            self.failed = Some("fsync");
            return Err(io_error("fsync", &self.log_path)(e));
        }
        self.end += record.len() as u64;
        if let Some(last) = update.entries.last() {
            self.last = last.index;
        }
        Ok(())
    }
}

/// Wraps an I/O error with what was being done to which file (the path is formatted at
/// once, so call it on the error path of hot code only).
fn io_error(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError + use<> {
    let path = path.display().to_string();
    move |source| StorageError::Io { op, path, source }
}

fn open_append(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_error("open", path))
}

/// Makes a directory's entries (files created, renamed) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The standard library cannot open a directory outside Unix; see the module's limits.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Replaces the log with `bytes`: writes them beside it, syncs them, renames them over it,
/// syncs the directory.
fn write_log_atomically(dir: &Path, bytes: &[u8], fsync: Fsync) -> Result<(), StorageError> {
    let tmp = dir.join(TMP_FILE);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_error("create", &tmp))?;
    file.write_all(bytes).map_err(io_error("write", &tmp))?;
    if fsync == Fsync::Always {
        file.sync_all().map_err(io_error("fsync", &tmp))?;
    }
    drop(file);
    let log_path = dir.join(LOG_FILE);
    fs::rename(&tmp, &log_path).map_err(io_error("rename", &log_path))?;
    if fsync == Fsync::Always {
        sync_dir(dir).map_err(io_error("fsync", dir))?;
    }
    Ok(())
}

/// `n` rounded up to a multiple of [`ALIGN`].
fn aligned(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

fn too_large(what: &str, bytes: usize) -> StorageError {
    StorageError::BadWrite(format!(
        "{what} of {bytes} bytes does not fit in a log record (at most {} bytes)",
        u32::MAX
    ))
}

/// Appends one record holding `hard_state` and `entries` (contiguous, checked by the caller)
/// to `out`.
fn encode_record(
    out: &mut Vec<u8>,
    hard_state: Option<HardState>,
    entries: &[Entry],
) -> Result<(), StorageError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let mut flags = 0;
    if hard_state.is_some() {
        flags |= FLAG_HARD_STATE;
    }
    if !entries.is_empty() {
        flags |= FLAG_ENTRIES;
    }
    out.push(flags);
    if let Some(hs) = hard_state {
        out.extend_from_slice(&hs.term.to_le_bytes());
        match hs.voted_for {
            None => {
                out.push(0);
                out.extend_from_slice(&0u32.to_le_bytes());
            }
            Some(NodeId(id)) => {
                out.push(1);
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
    }
    if let Some(first) = entries.first() {
        out.extend_from_slice(&first.index.to_le_bytes());
        let count = u32::try_from(entries.len())
            .map_err(|_| too_large("a write of more than 2^32 - 1 entries", entries.len()))?;
        out.extend_from_slice(&count.to_le_bytes());
        for entry in entries {
            out.extend_from_slice(&entry.term.to_le_bytes());
            match &entry.payload {
                Payload::Noop => out.push(PAYLOAD_NOOP),
                Payload::Data(data) => {
                    out.push(PAYLOAD_DATA);
                    let len = u32::try_from(data.len())
                        .map_err(|_| too_large("a payload", data.len()))?;
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(data);
                }
            }
        }
    }
    let body = out.len() - start - HEADER;
    let len = u32::try_from(body).map_err(|_| too_large("a write", body))?;
    out.resize(start + aligned(HEADER + body), 0);
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc32fast::hash(&len.to_le_bytes()).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// A whole log holding `state`: the magic, then records of about [`REWRITE_CHUNK`] bytes of
/// entries each, the hard state in the first.
fn encode_log(state: &Durable) -> Result<Vec<u8>, StorageError> {
    let mut out = MAGIC.to_vec();
    let mut hard_state = (state.hard_state != HardState::default()).then_some(state.hard_state);
    let mut rest = &state.log[..];
    while !rest.is_empty() {
        let mut take = 0;
        let mut bytes = 0;
        while take < rest.len() && (take == 0 || bytes < REWRITE_CHUNK) {
            bytes += match &rest[take].payload {
                Payload::Noop => 0,
                Payload::Data(data) => data.len(),
            };
            take += 1;
        }
        encode_record(&mut out, hard_state.take(), &rest[..take])?;
        rest = &rest[take..];
    }
    if let Some(hs) = hard_state {
        encode_record(&mut out, Some(hs), &[])?;
    }
    Ok(out)
}

/// What replaying a log found.
struct Replayed {
    /// The hard state and log its whole records add up to.
    state: Durable,
    /// The byte after its last whole record.
    end: usize,
    /// How many whole records it holds.
    records: usize,
}

/// A record at some offset, as far as its checksums tell.
enum Frame<'a> {
    /// Both checksums hold.
    Whole { body: &'a [u8], end: usize },
    /// The header holds (so the record's extent is known) but the record runs past the end
    /// of the file or fails its checksum.
    BadBody { end: usize, why: String },
    /// The file ends inside the header, or the header fails its checksum.
    BadHeader { why: String },
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn frame_at(bytes: &[u8], at: usize) -> Frame<'_> {
    if bytes.len() - at < HEADER {
        return Frame::BadHeader {
            why: format!(
                "the file ends {} bytes into a record's {HEADER}-byte header",
                bytes.len() - at
            ),
        };
    }
    let len = read_u32(bytes, at);
    let len_crc = read_u32(bytes, at + 4);
    if crc32fast::hash(&bytes[at..at + 4]) != len_crc {
        return Frame::BadHeader {
            why: "the record's length fails its checksum".to_string(),
        };
    }
    let end = at + aligned(HEADER + len as usize);
    if end > bytes.len() {
        return Frame::BadBody {
            end,
            why: format!(
                "the record is {} bytes but the file ends {} bytes into it",
                end - at,
                bytes.len() - at
            ),
        };
    }
    let stored = read_u32(bytes, at + 8);
    let computed = crc32fast::hash(&bytes[at + HEADER..end]);
    if stored != computed {
        return Frame::BadBody {
            end,
            why: format!(
                "the record fails its checksum (stored {stored:#010x}, computed {computed:#010x})"
            ),
        };
    }
    Frame::Whole {
        body: &bytes[at + HEADER..at + HEADER + len as usize],
        end,
    }
}

/// Replays a whole log's bytes (see the module docs' recovery rules).
fn replay(bytes: &[u8], path: &Path) -> Result<Replayed, StorageError> {
    let corrupt = |offset: usize, why: String| StorageError::Corrupt {
        path: path.display().to_string(),
        offset: offset as u64,
        why,
    };
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt(
            0,
            format!(
                "not a Raft log: it does not start with {:?}",
                String::from_utf8_lossy(&MAGIC)
            ),
        ));
    }
    let mut state = Durable::default();
    let mut at = MAGIC.len();
    let mut records = 0;
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Frame::Whole { body, end } => {
                let update = decode_body(body)
                    .map_err(|why| corrupt(at, format!("the record does not decode: {why}")))?;
                validate(state.log.len() as Index, &update).map_err(|e| {
                    corrupt(
                        at,
                        format!("the record does not fit the log before it: {e}"),
                    )
                })?;
                apply(&mut state, update);
                records += 1;
                at = end;
            }
            // A torn write appends one record and nothing after it.
            Frame::BadBody { end, why } if end < bytes.len() => {
                return Err(corrupt(
                    at,
                    format!("{why}, and more of the log follows it from byte {end}"),
                ));
            }
            Frame::BadBody { .. } => break,
            Frame::BadHeader { why } => {
                let mut next = at + ALIGN;
                while next + HEADER <= bytes.len() {
                    if let Frame::Whole { .. } = frame_at(bytes, next) {
                        return Err(corrupt(
                            at,
                            format!("{why}, and a whole record follows it at byte {next}"),
                        ));
                    }
                    next += ALIGN;
                }
                break;
            }
        }
    }
    Ok(Replayed {
        state,
        end: at,
        records,
    })
}

/// Applies a write [`validate`] accepted.
fn apply(state: &mut Durable, update: Persist) {
    if let Some(first) = update.entries.first() {
        state.log.truncate(first.index as usize - 1);
        state.log.extend(update.entries);
    }
    if let Some(hs) = update.hard_state {
        state.hard_state = hs;
    }
}

/// Reads a record's body, byte by byte, naming what it ran out in.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.bytes.len() - self.at < n {
            return Err(format!(
                "the body ends inside {what} (byte {} of {})",
                self.at,
                self.bytes.len()
            ));
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(taken)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let mut word = [0; 4];
        word.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(word))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let mut word = [0; 8];
        word.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(word))
    }
}

fn decode_body(body: &[u8]) -> Result<Persist, String> {
    let mut r = Reader { bytes: body, at: 0 };
    let flags = r.u8("the flags")?;
    if flags == 0 || flags & !(FLAG_HARD_STATE | FLAG_ENTRIES) != 0 {
        return Err(format!("bad flags {flags:#04x}"));
    }
    let mut update = Persist::default();
    if flags & FLAG_HARD_STATE != 0 {
        let term = r.u64("the hard state's term")?;
        let tag = r.u8("the hard state's vote")?;
        let candidate = r.u32("the hard state's vote")?;
        let voted_for = match (tag, candidate) {
            (0, 0) => None,
            (1, id) => Some(NodeId(id)),
            _ => return Err(format!("bad vote tag {tag} with candidate {candidate}")),
        };
        update.hard_state = Some(HardState { term, voted_for });
    }
    if flags & FLAG_ENTRIES != 0 {
        let first = r.u64("the first index")?;
        let count = r.u32("the entry count")?;
        if count == 0 {
            return Err("an entries record with no entries".to_string());
        }
        if first.checked_add(u64::from(count)).is_none() {
            return Err(format!(
                "{count} entries from index {first} overflow the index"
            ));
        }
        for i in 0..u64::from(count) {
            let term = r.u64("an entry's term")?;
            let payload = match r.u8("an entry's payload tag")? {
                PAYLOAD_NOOP => Payload::Noop,
                PAYLOAD_DATA => {
                    let len = r.u32("a payload's length")?;
                    Payload::Data(r.take(len as usize, "a payload")?.to_vec())
                }
                tag => return Err(format!("bad payload tag {tag}")),
            };
            update.entries.push(Entry {
                term,
                index: first + i,
                payload,
            });
        }
    }
    if r.at != body.len() {
        return Err(format!(
            "{} bytes left over after the last field",
            body.len() - r.at
        ));
    }
    Ok(update)
}
