//! What the file-store tests share: the harness that reopens a store from its directory, and
//! a log built from a fixed list of writes with the byte offset where each record ends.

use std::fs;
use std::path::{Path, PathBuf};

use coordlab_impls::raft::file::LOG_FILE;
use coordlab_impls::raft::testing::Harness;
use coordlab_impls::raft::{
    Durable, Entry, FileStorage, Fsync, HardState, NodeId, Payload, Persist, Storage, StorageError,
};
use tempfile::TempDir;

/// File stores, each in its own temporary directory (removed when the harness drops).
pub struct Files {
    fsync: Fsync,
    dirs: Vec<TempDir>,
}

impl Files {
    pub fn new(fsync: Fsync) -> Files {
        Files {
            fsync,
            dirs: Vec::new(),
        }
    }
}

impl Harness for Files {
    type Store = FileStorage;
    fn fresh(&mut self) -> Result<FileStorage, StorageError> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = FileStorage::open_with(dir.path(), self.fsync)?;
        self.dirs.push(dir);
        Ok(store)
    }
    /// A crash: the store is dropped (its lock released, nothing flushed beyond what
    /// `persist` did) and the directory opened again.
    fn reopen(&mut self, store: FileStorage) -> Result<FileStorage, StorageError> {
        let dir = store.dir().to_path_buf();
        drop(store);
        FileStorage::open_with(dir, self.fsync)
    }
}

pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

pub fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
    Entry {
        term,
        index,
        payload: Payload::Data(data.to_vec()),
    }
}

pub fn hs(term: u64, voted_for: Option<u32>) -> HardState {
    HardState {
        term,
        voted_for: voted_for.map(NodeId),
    }
}

/// Six writes of every kind: a vote, appends, a hard state with entries, an overwrite of a
/// suffix, a hard state alone, a no-op and data.
pub fn sample_writes() -> Vec<Persist> {
    vec![
        Persist {
            hard_state: Some(hs(1, Some(0))),
            entries: vec![],
        },
        Persist {
            hard_state: None,
            entries: vec![entry(1, 1, b"a"), entry(2, 1, b"bb"), entry(3, 1, b"ccc")],
        },
        Persist {
            hard_state: Some(hs(2, None)),
            entries: vec![entry(4, 2, b"dddd")],
        },
        Persist {
            hard_state: None,
            entries: vec![entry(2, 2, b"replaced"), entry(3, 2, b"")],
        },
        Persist {
            hard_state: Some(hs(3, Some(2))),
            entries: vec![],
        },
        Persist {
            hard_state: None,
            entries: vec![
                Entry {
                    term: 3,
                    index: 4,
                    payload: Payload::Noop,
                },
                entry(5, 3, &[0, 255, 7, 0, 0, 0, 0, 0, 0, 1]),
            ],
        },
    ]
}

/// A log made by [`sample_writes`]: its bytes, where each record ends (`ends[0]` is the end
/// of the magic, `ends[k]` the end of write `k`'s record) and what the store loaded after
/// each write (`states[k]`).
pub struct SampleLog {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
    pub states: Vec<Durable>,
}

impl SampleLog {
    pub fn build() -> SampleLog {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = FileStorage::open(dir.path()).expect("open");
        let size = || fs::metadata(log_path(dir.path())).expect("the log").len() as usize;
        let mut ends = vec![size()];
        let mut states = vec![store.load().expect("load")];
        for write in sample_writes() {
            store.persist(&write).expect("persist");
            ends.push(size());
            states.push(store.load().expect("load"));
        }
        let bytes = fs::read(log_path(dir.path())).expect("read the log");
        assert_eq!(ends.last(), Some(&bytes.len()));
        SampleLog {
            bytes,
            ends,
            states,
        }
    }

    /// The start of the record holding byte `offset` (0 for the magic).
    pub fn record_start(&self, offset: usize) -> usize {
        if offset < self.ends[0] {
            return 0;
        }
        *self
            .ends
            .iter()
            .rev()
            .find(|&&end| end <= offset)
            .expect("ends[0] is at most offset")
    }

    /// How many writes lie wholly before byte `offset`.
    pub fn writes_before(&self, offset: usize) -> usize {
        self.ends
            .iter()
            .rposition(|&end| end <= offset)
            .expect("past the magic")
    }
}

/// A directory whose log is `bytes`.
pub fn dir_with_log(bytes: &[u8]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::write(log_path(dir.path()), bytes).expect("write the log");
    dir
}
