//! The file store after crashes and damage: a torn last write is dropped and the log
//! truncated; damage anywhere else is `Corrupt` naming the file and the bad record's offset.
//! Also its format byte for byte, its lock, and its compaction.

use std::fs::{self, OpenOptions};
use std::io::Write;

use coordlab_impls::raft::file::{LOCK_FILE, LOG_FILE, MAGIC};
use coordlab_impls::raft::{
    Durable, Entry, FileStorage, Fsync, Payload, Persist, Storage, StorageError,
};

use crate::files::{SampleLog, dir_with_log, entry, hs, log_path, sample_writes};

/// The write every recovered store must still accept and keep.
fn after_recovery() -> Persist {
    Persist {
        hard_state: Some(hs(99, Some(9))),
        entries: vec![],
    }
}

/// Opens a log made of `bytes` and checks it recovers to `expected`, having cut
/// `discarded` bytes, and that it then writes and reopens normally.
fn recovers(bytes: &[u8], expected: &Durable, discarded: usize, case: &str) {
    let dir = dir_with_log(bytes);
    let mut store =
        FileStorage::open(dir.path()).unwrap_or_else(|e| panic!("{case}: open failed: {e}"));
    assert_eq!(store.load().expect("load"), *expected, "{case}: loaded");
    assert_eq!(
        store.discarded_tail(),
        discarded as u64,
        "{case}: bytes cut"
    );
    let len = fs::metadata(log_path(dir.path())).expect("the log").len() as usize;
    assert_eq!(
        len,
        bytes.len() - discarded,
        "{case}: the log was truncated"
    );
    store
        .persist(&after_recovery())
        .expect("a write after recovery");
    drop(store);
    let mut store = FileStorage::open(dir.path()).expect("reopen after recovery");
    let mut then = expected.clone();
    then.hard_state = hs(99, Some(9));
    assert_eq!(
        store.load().expect("load"),
        then,
        "{case}: after a write and a reopen"
    );
    assert_eq!(store.discarded_tail(), 0, "{case}: nothing left to cut");
}

/// Opens a log made of `bytes` and checks it is refused as corrupt at `offset`, leaving the
/// file as it was.
fn corrupt_at(bytes: &[u8], offset: usize, case: &str) -> String {
    let dir = dir_with_log(bytes);
    match FileStorage::open(dir.path()) {
        Err(StorageError::Corrupt {
            path,
            offset: found,
            why,
        }) => {
            assert!(path.ends_with(LOG_FILE), "{case}: the path is {path}");
            assert_eq!(found, offset as u64, "{case}: offset ({why})");
            let after = fs::read(log_path(dir.path())).expect("the log");
            assert_eq!(after, bytes, "{case}: a corrupt log must be left as it is");
            why
        }
        Err(e) => panic!("{case}: expected Corrupt at byte {offset}, got `{e}`"),
        Ok(mut store) => panic!(
            "{case}: expected Corrupt at byte {offset}, but it opened and loaded {:?}",
            store.load()
        ),
    }
}

/// Claim: a crash inside the last `persist` loses that write and nothing else: the log cut
/// at every byte inside its last record reopens with every earlier write, truncated back to
/// the last whole record, and takes new writes. (The contract: a write interrupted before it
/// returned is wholly there or wholly absent.)
#[test]
fn cut_inside_last_record_loses_only_the_last_write() {
    let log = SampleLog::build();
    let n = log.ends.len() - 1;
    for cut in log.ends[n - 1]..log.ends[n] {
        recovers(
            &log.bytes[..cut],
            &log.states[n - 1],
            cut - log.ends[n - 1],
            &format!("cut at byte {cut} of {}", log.bytes.len()),
        );
    }
    recovers(&log.bytes, &log.states[n], 0, "the whole log");
}

/// Claim (a documented limit): a log cut inside an earlier record cannot be told from one
/// whose last write was torn there, so it loses every write from the cut on; a log cut inside
/// the magic is refused as corrupt at byte 0.
#[test]
fn cut_inside_earlier_record_loses_the_writes_from_there() {
    let log = SampleLog::build();
    let n = log.ends.len() - 1;
    for cut in 0..log.ends[0] {
        corrupt_at(
            &log.bytes[..cut],
            0,
            &format!("cut at byte {cut}, in the magic"),
        );
    }
    for cut in log.ends[0]..log.ends[n - 1] {
        let k = log.writes_before(cut);
        assert!(k < n - 1);
        recovers(
            &log.bytes[..cut],
            &log.states[k],
            cut - log.ends[k],
            &format!("cut at byte {cut}, after {k} whole writes"),
        );
    }
}

/// Claim: a last record that a crash left as zeros (a file system shows unwritten blocks
/// inside a file's length as zeros), wholly or in part, or zeros after the last whole
/// record, are a torn write: that write is lost and nothing else.
#[test]
fn zeroed_last_record_is_a_torn_write() {
    let log = SampleLog::build();
    let n = log.ends.len() - 1;
    let (start, end) = (log.ends[n - 1], log.ends[n]);
    let zeroed = |from: usize, to: usize| {
        let mut bytes = log.bytes.clone();
        bytes[from..to].fill(0);
        bytes
    };
    recovers(
        &zeroed(start, end),
        &log.states[n - 1],
        end - start,
        "last record zeroed",
    );
    recovers(
        &zeroed(start, start + 8),
        &log.states[n - 1],
        end - start,
        "last record's length and its checksum zeroed",
    );
    recovers(
        &zeroed(start + 12, end),
        &log.states[n - 1],
        end - start,
        "last record's body zeroed",
    );
    let mut extended = log.bytes.clone();
    extended.extend([0; 24]);
    recovers(&extended, &log.states[n], 24, "zeros after the last record");
}

/// Claim: any byte flipped before the last record (in the magic, a header, a body or the
/// padding) makes the log `Corrupt` at the start of the record holding it (0 for the magic),
/// because a whole record follows the damage, which a torn write never leaves.
#[test]
fn flipped_byte_before_the_last_record_is_corrupt_at_its_record() {
    let log = SampleLog::build();
    let n = log.ends.len() - 1;
    for offset in 0..log.ends[n - 1] {
        for mask in [0x01, 0x80, 0xFF] {
            let mut bytes = log.bytes.clone();
            bytes[offset] ^= mask;
            corrupt_at(
                &bytes,
                log.record_start(offset),
                &format!("byte {offset} flipped with {mask:#04x}"),
            );
        }
    }
}

/// Claim (a documented limit): damage inside the last record cannot be told from a torn
/// write, so it loses the last write and nothing else.
#[test]
fn flipped_byte_in_the_last_record_loses_only_the_last_write() {
    let log = SampleLog::build();
    let n = log.ends.len() - 1;
    let (start, end) = (log.ends[n - 1], log.ends[n]);
    for offset in start..end {
        let mut bytes = log.bytes.clone();
        bytes[offset] ^= 0x10;
        recovers(
            &bytes,
            &log.states[n - 1],
            end - start,
            &format!("byte {offset} of the last record flipped"),
        );
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: Williams, "A Painless
/// Guide to CRC Error Detection Algorithms" (1993), the CRC-32 model. Written here so the
/// format test does not trust the checksum crate the store uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A record with `body`, laid out as the module docs of `raft::file` say.
fn record(body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_le_bytes();
    let mut covered = body.to_vec();
    covered.resize((12 + body.len()).div_ceil(8) * 8 - 12, 0);
    let mut out = Vec::new();
    out.extend(len);
    out.extend(crc32(&len).to_le_bytes());
    out.extend(crc32(&covered).to_le_bytes());
    out.extend(covered);
    out
}

/// Claim: the log is laid out byte for byte as the module docs describe (magic; length, its
/// CRC-32, the body's CRC-32, the body, zero padding to 8; the body's fields little-endian).
#[test]
fn format_matches_the_documented_layout() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the CRC-32 check value");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open(dir.path()).expect("open");
    store
        .persist(&Persist {
            hard_state: Some(hs(7, Some(3))),
            entries: vec![
                Entry {
                    term: 7,
                    index: 1,
                    payload: Payload::Noop,
                },
                entry(2, 7, b"ab"),
            ],
        })
        .expect("persist");
    store
        .persist(&Persist {
            hard_state: Some(hs(8, None)),
            entries: vec![],
        })
        .expect("persist");
    let mut body = vec![0b11];
    body.extend(7u64.to_le_bytes());
    body.push(1);
    body.extend(3u32.to_le_bytes());
    body.extend(1u64.to_le_bytes());
    body.extend(2u32.to_le_bytes());
    body.extend(7u64.to_le_bytes());
    body.push(0);
    body.extend(7u64.to_le_bytes());
    body.push(1);
    body.extend(2u32.to_le_bytes());
    body.extend(b"ab");
    let mut second = vec![0b01];
    second.extend(8u64.to_le_bytes());
    second.push(0);
    second.extend(0u32.to_le_bytes());
    let expected = [MAGIC.to_vec(), record(&body), record(&second)].concat();
    assert_eq!(expected.len() % 8, 0);
    assert_eq!(fs::read(log_path(dir.path())).expect("the log"), expected);
}

/// Claim: a record whose checksums hold but whose body does not decode (bad flags, a bad
/// payload tag, bytes left over) is damage, not a torn write, even as the last record.
#[test]
fn checksummed_record_that_does_not_decode_is_corrupt() {
    let good = record(&[0b01, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut bad_tag = vec![0b10];
    bad_tag.extend(1u64.to_le_bytes());
    bad_tag.extend(1u32.to_le_bytes());
    bad_tag.extend(1u64.to_le_bytes());
    bad_tag.push(9);
    let bodies: [(&str, Vec<u8>); 4] = [
        ("flags 0", vec![0]),
        ("flags 0x04", vec![0x04]),
        ("payload tag 9", bad_tag),
        (
            "a byte left over",
            vec![0b01, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xAA],
        ),
    ];
    for (what, body) in bodies {
        let at = MAGIC.len() + good.len();
        let middle = [MAGIC.to_vec(), good.clone(), record(&body), good.clone()].concat();
        let why = corrupt_at(&middle, at, &format!("{what}, mid-log"));
        assert!(why.contains("does not decode"), "{what}: {why}");
        let last = [MAGIC.to_vec(), good.clone(), record(&body)].concat();
        corrupt_at(&last, at, &format!("{what}, last"));
    }
}

/// Claim: a whole record whose entries leave a gap after the log before it is damage.
#[test]
fn record_that_does_not_fit_the_log_is_corrupt() {
    let mut body = vec![0b10];
    body.extend(5u64.to_le_bytes());
    body.extend(1u32.to_le_bytes());
    body.extend(1u64.to_le_bytes());
    body.push(0);
    let why = corrupt_at(
        &[MAGIC.to_vec(), record(&body)].concat(),
        8,
        "entry 5 first",
    );
    assert!(why.contains("does not fit the log"), "{why}");
}

/// Claim: a file that does not start with the magic is refused at byte 0, not replaced.
#[test]
fn not_a_log_is_corrupt_at_byte_0() {
    corrupt_at(b"", 0, "an empty file");
    corrupt_at(b"hello, world, this is not a log", 0, "text");
    let mut wrong_version = MAGIC.to_vec();
    wrong_version[7] = 2;
    corrupt_at(&wrong_version, 0, "version 2");
}

/// Claim: a refused write leaves the log's bytes as they were.
#[test]
fn refused_write_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open(dir.path()).expect("open");
    for write in sample_writes() {
        store.persist(&write).expect("persist");
    }
    let before = fs::read(log_path(dir.path())).expect("the log");
    let gap = Persist {
        hard_state: Some(hs(50, Some(1))),
        entries: vec![entry(9, 50, b"gap")],
    };
    assert!(matches!(
        store.persist(&gap),
        Err(StorageError::BadWrite(_))
    ));
    assert_eq!(fs::read(log_path(dir.path())).expect("the log"), before);
    store.persist(&Persist::default()).expect("an empty write");
    assert_eq!(fs::read(log_path(dir.path())).expect("the log"), before);
}

/// Claim: two stores never append to one log: a second open of a directory is refused
/// (`Io` with op `lock`) while the first store lives, and allowed once it is dropped.
#[test]
fn second_open_is_refused_while_the_first_store_lives() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = FileStorage::open(dir.path()).expect("open");
    match FileStorage::open(dir.path()) {
        Err(StorageError::Io { op, path, source }) => {
            assert_eq!(op, "lock");
            assert!(path.ends_with(LOCK_FILE), "{path}");
            assert_eq!(source.kind(), std::io::ErrorKind::WouldBlock);
        }
        Err(e) => panic!("expected a lock error, got `{e}`"),
        Ok(_) => panic!("a second store opened a directory in use"),
    }
    drop(first);
    FileStorage::open(dir.path()).expect("open after the first store is gone");
}

/// Claim: reopening a log of 64 KiB or more, at least twice as long as its contents,
/// rewrites it to them (so old hard states and overwritten suffixes do not pile up) and keeps
/// what it loads; a reopen leaves a smaller log as it is.
#[test]
fn reopen_compacts_a_log_twice_as_long_as_its_contents() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open(dir.path()).expect("open");
    let payload = [b'x'; 100];
    for term in 1..=300 {
        store
            .persist(&Persist {
                hard_state: Some(hs(term, Some(term as u32 % 3))),
                entries: (1..=4).map(|i| entry(i, term, &payload)).collect(),
            })
            .expect("persist");
    }
    let contents = store.load().expect("load");
    let long = fs::metadata(log_path(dir.path())).expect("the log").len();
    assert!(long >= 64 * 1024, "{long} bytes");
    drop(store);
    let mut store = FileStorage::open(dir.path()).expect("reopen");
    let short = fs::metadata(log_path(dir.path())).expect("the log").len();
    assert!(short * 100 < long, "{long} bytes became {short}");
    assert_eq!(store.load().expect("load"), contents);
    store
        .persist(&Persist {
            hard_state: None,
            entries: vec![entry(5, 300, b"after")],
        })
        .expect("a write after compaction");
    let mut expected = contents.clone();
    expected.log.push(entry(5, 300, b"after"));
    let before = fs::read(log_path(dir.path())).expect("the log");
    drop(store);
    let mut store = FileStorage::open(dir.path()).expect("reopen");
    assert_eq!(store.load().expect("load"), expected);
    assert_eq!(
        fs::read(log_path(dir.path())).expect("the log"),
        before,
        "a log under 64 KiB is left as it is"
    );
}

/// Claim: `compact` rewrites the log to its contents, in several records when the entries
/// hold more than about a megabyte, and the store goes on writing to the new log.
#[test]
fn compact_keeps_contents_and_later_writes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open_with(dir.path(), Fsync::Always).expect("open");
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    store
        .persist(&Persist {
            hard_state: Some(hs(4, Some(1))),
            entries: (1..=5).map(|i| entry(i, 4, &big)).collect(),
        })
        .expect("persist");
    store
        .persist(&Persist {
            hard_state: None,
            entries: vec![entry(2, 5, b"small")],
        })
        .expect("persist");
    let contents = store.load().expect("load");
    store.compact().expect("compact");
    let compacted = fs::read(log_path(dir.path())).expect("the log");
    assert!(compacted.len() < 700_000, "{} bytes", compacted.len());
    assert_eq!(store.load().expect("load after compact"), contents);
    store
        .persist(&Persist {
            hard_state: Some(hs(5, None)),
            entries: vec![entry(3, 5, b"next")],
        })
        .expect("a write after compact");
    let mut expected = contents;
    expected.hard_state = hs(5, None);
    expected.log.push(entry(3, 5, b"next"));
    drop(store);
    let mut store = FileStorage::open(dir.path()).expect("reopen");
    assert_eq!(store.load().expect("load"), expected);

    // Two records' worth of entries: the rewrite splits them and still replays them.
    let entries: Vec<Entry> = (1..=4).map(|i| entry(i, 6, &big)).collect();
    store
        .persist(&Persist {
            hard_state: None,
            entries: entries.clone(),
        })
        .expect("persist");
    store.compact().expect("compact");
    let bytes = fs::read(log_path(dir.path())).expect("the log");
    let first_len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    assert!(
        first_len < 3 * big.len(),
        "the first record holds {first_len} bytes: the entries were not split"
    );
    drop(store);
    let mut store = FileStorage::open(dir.path()).expect("reopen");
    assert_eq!(store.load().expect("load").log, entries);
}

/// Claim: a rewrite that a crash interrupted before its rename leaves the log whole; the
/// next open removes the half-written file.
#[test]
fn leftover_rewrite_file_is_removed_on_open() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open(dir.path()).expect("open");
    for write in sample_writes() {
        store.persist(&write).expect("persist");
    }
    let contents = store.load().expect("load");
    drop(store);
    let tmp = dir.path().join(format!("{LOG_FILE}.tmp"));
    fs::write(&tmp, &MAGIC[..5]).expect("a half-written rewrite");
    let mut store = FileStorage::open(dir.path()).expect("open");
    assert!(!tmp.exists(), "the leftover is removed");
    assert_eq!(store.load().expect("load"), contents);
}

/// Claim: if something else appends to the log of an open store, `load` reports it as
/// `Corrupt` instead of returning what the store never wrote.
#[test]
fn log_changed_under_an_open_store_is_corrupt() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open(dir.path()).expect("open");
    store.persist(&sample_writes()[0]).expect("persist");
    let end = fs::metadata(log_path(dir.path())).expect("the log").len();
    let mut other = OpenOptions::new()
        .append(true)
        .open(log_path(dir.path()))
        .expect("open the log");
    other
        .write_all(&record(&[0b01, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
        .expect("append");
    match store.load() {
        Err(StorageError::Corrupt { offset, why, .. }) => {
            assert_eq!(offset, end, "{why}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Claim: `open` creates the directory, and its parents, when they do not exist.
#[test]
fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let nested = dir.path().join("a").join("b");
    let mut store = FileStorage::open(&nested).expect("open");
    store.persist(&sample_writes()[0]).expect("persist");
    drop(store);
    let mut store = FileStorage::open(&nested).expect("reopen");
    assert_eq!(store.load().expect("load").hard_state, hs(1, Some(0)));
    assert_eq!(
        fs::read(nested.join(LOG_FILE)).expect("the log")[..8],
        MAGIC
    );
}
