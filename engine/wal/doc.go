// Package wal is the engine's write-ahead log: an append-only log of opaque records, kept in
// segment files in one directory, plus the latest snapshot of the state they build. The engine
// writes each input command as one record, acknowledges it only after Sync, and on start loads
// the latest snapshot and replays the records after it.
//
// # Files
//
// A log directory holds:
//
//   - LOCK: locked with flock(LOCK_EX|LOCK_NB) while a Log is open, so a second Open of the
//     same directory (from this or another process) fails instead of corrupting it.
//   - %020d.wal: segment files, named by the index of their first record. Record indexes start at
//     1 and increase by 1 across segments; a segment holds frames and nothing else, so the index
//     of a record is its segment's first index plus its position. A segment rolls over to a new
//     one once it would exceed 64 MiB.
//   - snap-%020d.bin: the snapshot covering the records up to and including that index.
//   - *.tmp: a snapshot being written; removed on Open (it was never acknowledged).
//
// A frame is
//
//	uint32 length (little endian) | uint32 CRC-32C (Castagnoli) | data (length bytes)
//
// where the CRC covers the four length bytes followed by the data. Covering the length as well
// means a run of zero bytes (what some file systems leave in a file whose size was extended
// before its data reached the disk) is never mistaken for a series of empty records. A record is
// at most 64 MiB; a larger length in a frame is corruption.
//
// A snapshot file is
//
//	"WSN1" | uint64 index | uint64 length | uint32 CRC-32C | data
//
// (little endian), the CRC covering the 20 bytes before it and the data; the index must match the
// file name and the length the file's size.
//
// # Crash guarantees
//
// Everything appended before a Sync that returned nil survives kill -9 and power loss (Sync
// flushes the buffer and fsyncs the segment; a new segment's directory entry is fsynced before
// any record goes into it, and a segment is fsynced before the next one is created). Records
// appended but not synced may or may not survive, but only as a prefix: Open reads the last
// segment up to the first frame that is torn (cut short), has an impossible length or fails
// its CRC, truncates the file there and reports the cut in TruncatedBytes; the next Append
// continues after the last good record. Any such damage in an earlier segment, or segments that
// do not follow on from each other, cannot come from a crash and makes Open fail.
//
// WriteSnapshot syncs the log first (a snapshot never covers records that might be lost), then
// writes the snapshot to a temporary file, fsyncs it, renames it into place and fsyncs the
// directory; only then does it start a new segment and delete the segments whose records are all
// covered and the older snapshots. A crash at any point leaves either the previous snapshot
// (plus a stray temporary file, removed on Open) or the new one; segments left over from an
// interrupted clean-up are recognised from their names as covered and removed by the next Open,
// and Replay never returns records at or below the snapshot's index. If the newest snapshot
// fails its check, Open falls back to an older valid one if it still exists and the segments
// after it are all there; otherwise Open fails.
//
// Replay hands fn a fresh slice per record, which fn may keep; Snapshot's data is the caller's
// too. Replay reads the files without holding the Log's lock, so fn may call Append (Replay
// stops at the last record appended before it started) but must not call WriteSnapshot. Append
// does not keep the slices it is given.
//
// A Log is safe for concurrent use, but it is meant to be driven by one goroutine (the engine's
// loop): Append, then Sync once for the whole batch (group commit), then acknowledge. After a
// failed write or fsync every later call returns that error: the engine must stop and reopen the
// log, since what reached the disk is unknown.
package wal
