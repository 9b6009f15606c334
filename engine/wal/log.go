package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

const writeBufferSize = 256 << 10

var errClosed = errors.New("wal: log is closed")

// Log is an append-only log of records in segment files in one directory, plus the latest snapshot.
type Log struct {
	mu   sync.Mutex
	dir  string
	lock *os.File

	segs []segment // segments that may hold records after the snapshot; the last is current
	f    *os.File  // the current segment, open for writing at its end
	w    *bufio.Writer
	size int64 // sum of segs' sizes

	lastIndex uint64
	dirty     bool // appended since the last fsync

	hasSnap   bool
	snapIndex uint64
	snapData  []byte // the snapshot read by Open, kept until the first Snapshot call
	snapKept  bool

	truncated int64
	err       error // sticky: a failed write or fsync
	closed    bool
}

// Open opens (creating if needed) the log in dir. A torn or corrupt tail of the LAST segment
// (partial frame, bad length, CRC mismatch) is truncated away and reported by TruncatedBytes;
// corruption before the last segment's tail is an error. Two Opens of one dir at once must fail
// (use a lock file with syscall.Flock, LOCK_EX|LOCK_NB, error naming the dir).
func Open(dir string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, lock: lock}
	if err := l.load(); err != nil {
		if l.f != nil {
			l.f.Close()
		}
		lock.Close()
		return nil, err
	}
	return l, nil
}

// load reads the directory: snapshot, segments, torn tail; finishes an interrupted
// WriteSnapshot's clean-up and opens the current segment for appending.
func (l *Log) load() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	removed := false
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), snapshotPrefix) && strings.HasSuffix(e.Name(), tempSuffix) {
			if err := os.Remove(filepath.Join(l.dir, e.Name())); err != nil {
				return fmt.Errorf("wal: removing unfinished snapshot: %w", err)
			}
			removed = true
		}
	}

	snaps := listSnapshots(entries)
	var skipped error // newer snapshots that failed their check
	l.snapIndex, l.snapData, l.hasSnap, skipped, err = loadSnapshot(l.dir, snaps)
	if err != nil {
		return err
	}
	l.snapKept = l.hasSnap

	// The live segments start at the last one whose first index is <= snapIndex+1; all records
	// of the ones before it are covered by the snapshot.
	firsts := listSegments(entries)
	start := -1
	for i, first := range firsts {
		if first <= l.snapIndex+1 {
			start = i
		}
	}
	if len(firsts) > 0 && start < 0 {
		err := fmt.Errorf("wal: %s: first segment starts at record %d but the snapshot covers only up to %d: records missing",
			l.dir, firsts[0], l.snapIndex)
		if skipped != nil {
			err = fmt.Errorf("%w (after falling back from a newer snapshot: %w)", err, skipped)
		}
		return err
	}
	var obsolete []uint64
	if start > 0 {
		obsolete = firsts[:start]
	}
	l.lastIndex = l.snapIndex
	if start >= 0 {
		next := firsts[start]
		for i, first := range firsts[start:] {
			name := segmentName(first)
			if first != next {
				return fmt.Errorf("wal: segment %s starts at record %d, but the previous segment ends at %d", name, first, next-1)
			}
			tail := start+i == len(firsts)-1
			path := filepath.Join(l.dir, name)
			count, valid, fileSize, err := scanSegment(path, tail)
			if err != nil {
				return err
			}
			if tail && valid < fileSize {
				if err := truncateFile(path, valid); err != nil {
					return fmt.Errorf("wal: truncating torn tail of %s: %w", name, err)
				}
				l.truncated = fileSize - valid
			}
			l.segs = append(l.segs, segment{first: first, size: valid})
			l.size += valid
			next = first + count
		}
		l.lastIndex = next - 1
	}
	if l.lastIndex < l.snapIndex {
		// Only possible if synced records were lost (a snapshot is written after syncing the
		// records it covers): the snapshot has them, so carry on after it in a new segment.
		for _, s := range l.segs {
			obsolete = append(obsolete, s.first)
		}
		l.segs, l.size, l.lastIndex = nil, 0, l.snapIndex
	}
	if len(l.segs) == 0 {
		if err := l.createSegment(l.lastIndex + 1); err != nil {
			return err
		}
	} else {
		cur := l.segs[len(l.segs)-1]
		f, err := os.OpenFile(filepath.Join(l.dir, segmentName(cur.first)), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		if _, err := f.Seek(cur.size, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("wal: %w", err)
		}
		l.f, l.w = f, bufio.NewWriterSize(f, writeBufferSize)
	}

	// Finish the clean-up of an interrupted WriteSnapshot.
	for _, first := range obsolete {
		if err := removeIfExists(filepath.Join(l.dir, segmentName(first))); err != nil {
			return fmt.Errorf("wal: removing covered segment: %w", err)
		}
		removed = true
	}
	for _, index := range snaps {
		if l.hasSnap && index < l.snapIndex {
			if err := removeIfExists(filepath.Join(l.dir, snapshotName(index))); err != nil {
				return fmt.Errorf("wal: removing old snapshot: %w", err)
			}
			removed = true
		}
	}
	if removed {
		if err := syncDir(l.dir); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	return nil
}

// TruncatedBytes is how many bytes Open cut from a torn tail (0 normally).
func (l *Log) TruncatedBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.truncated
}

// Snapshot returns the latest snapshot: the index of the last record it covers and its data;
// (0, nil, nil) when there is none.
func (l *Log) Snapshot() (index uint64, data []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, nil, errClosed
	}
	if !l.hasSnap {
		return 0, nil, nil
	}
	if l.snapKept {
		// Hand over what Open read and checked (the engine asks once, at start).
		data, l.snapData, l.snapKept = l.snapData, nil, false
		return l.snapIndex, data, nil
	}
	data, err = readSnapshot(l.dir, l.snapIndex)
	if err != nil {
		return 0, nil, err
	}
	return l.snapIndex, data, nil
}

// Replay calls fn for every record after the snapshot's index, in order. Record indexes start at
// 1 and increase by 1 across segments.
func (l *Log) Replay(fn func(index uint64, data []byte) error) error {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	if err := l.w.Flush(); err != nil { // so that reading the files sees every record
		l.err = fmt.Errorf("wal: writing %s: %w", segmentName(l.segs[len(l.segs)-1].first), err)
		l.mu.Unlock()
		return l.err
	}
	segs := append([]segment(nil), l.segs...)
	after, last := l.snapIndex, l.lastIndex
	l.mu.Unlock()

	// fn runs without the lock, so it may call Append; it must not call WriteSnapshot.
	for i, s := range segs {
		end := last + 1
		if i+1 < len(segs) {
			end = segs[i+1].first
		}
		if end-1 <= after {
			continue
		}
		if err := replaySegment(l.dir, s, end, after, fn); err != nil {
			return err
		}
	}
	return nil
}

// replaySegment calls fn for the records of s with indexes in (after, end).
func replaySegment(dir string, s segment, end, after uint64, fn func(uint64, []byte) error) error {
	name := segmentName(s.first)
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	fr := newFrameReader(f, s.size, false)
	for index := s.first; index < end; index++ {
		data, err := fr.next()
		if err == io.EOF {
			err = errors.New("segment ends early")
		}
		if err != nil {
			return fmt.Errorf("wal: segment %s: record %d at offset %d: %w", name, index, fr.offset, err)
		}
		if index > after {
			if err := fn(index, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// Append writes records to the current segment (buffered, NOT synced) and returns the index of
// the last one. Safe to call only from one goroutine at a time (the engine's loop).
func (l *Log) Append(records ...[]byte) (last uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return l.lastIndex, err
	}
	for i, r := range records {
		if len(r) > maxRecordSize {
			return l.lastIndex, fmt.Errorf("wal: record %d of the batch is %d bytes, over the 64 MiB limit", i, len(r))
		}
	}
	var hdr [frameHeaderSize]byte
	for _, r := range records {
		n := frameHeaderSize + int64(len(r))
		cur := &l.segs[len(l.segs)-1]
		if cur.size > 0 && cur.size+n > segmentSizeLimit {
			if err := l.roll(); err != nil {
				l.err = err
				return l.lastIndex, err
			}
			cur = &l.segs[len(l.segs)-1]
		}
		putFrameHeader(&hdr, r)
		if _, err := l.w.Write(hdr[:]); err == nil {
			_, err = l.w.Write(r)
		}
		if err != nil {
			l.err = fmt.Errorf("wal: writing %s: %w", segmentName(cur.first), err)
			return l.lastIndex, l.err
		}
		cur.size += n
		l.size += n
		l.lastIndex++
		l.dirty = true
	}
	return l.lastIndex, nil
}

// Sync flushes and fsyncs everything appended so far (one fsync for many Appends: group commit).
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	return l.sync()
}

func (l *Log) sync() error {
	if !l.dirty {
		return nil
	}
	err := l.w.Flush()
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		// After a failed fsync the page cache can no longer be trusted to reach the disk.
		l.err = fmt.Errorf("wal: syncing %s: %w", segmentName(l.segs[len(l.segs)-1].first), err)
		return l.err
	}
	l.dirty = false
	return nil
}

// roll syncs and closes the current segment and starts a new one after the last record. The
// old segment is durable before the new one exists, so only the last segment can have a torn tail.
func (l *Log) roll() error {
	if err := l.sync(); err != nil {
		return err
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("wal: closing segment: %w", err)
	}
	l.f, l.w = nil, nil
	return l.createSegment(l.lastIndex + 1)
}

// createSegment creates the segment file for first, makes its directory entry durable and
// makes it the current segment.
func (l *Log) createSegment(first uint64) error {
	name := segmentName(first)
	f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("wal: creating segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return fmt.Errorf("wal: creating segment %s: %w", name, err)
	}
	l.f, l.w = f, bufio.NewWriterSize(f, writeBufferSize)
	l.segs = append(l.segs, segment{first: first})
	return nil
}

// WriteSnapshot durably saves data as the snapshot covering records <= index (write to a temp
// file, fsync, rename, fsync the directory), then starts a new segment for later records and
// deletes segments and older snapshots whose records are all <= index. index must be <= LastIndex().
func (l *Log) WriteSnapshot(index uint64, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if index > l.lastIndex {
		return fmt.Errorf("wal: snapshot index %d is after the last record %d", index, l.lastIndex)
	}
	if l.hasSnap && index < l.snapIndex {
		return fmt.Errorf("wal: snapshot index %d is before the current snapshot's %d", index, l.snapIndex)
	}
	// The records the snapshot covers must be durable before it is: otherwise a crash could
	// leave a snapshot at index with fewer records in the log, and new records would reuse
	// indexes the snapshot claims.
	if err := l.sync(); err != nil {
		return err
	}
	if err := writeSnapshot(l.dir, index, data); err != nil {
		return err
	}
	l.hasSnap, l.snapIndex, l.snapData, l.snapKept = true, index, nil, false

	if l.segs[len(l.segs)-1].size > 0 {
		if err := l.roll(); err != nil {
			l.err = err
			return err
		}
	}
	// Clean up: segments whose records are all <= index (the current one never is: it is empty
	// or holds records after index), then every other snapshot.
	var errs []error
	kept := l.segs[:0]
	for i, s := range l.segs {
		if i+1 < len(l.segs) && l.segs[i+1].first-1 <= index {
			if err := removeIfExists(filepath.Join(l.dir, segmentName(s.first))); err != nil {
				errs = append(errs, err)
			} else {
				l.size -= s.size
				continue
			}
		}
		kept = append(kept, s)
	}
	l.segs = kept
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, i := range listSnapshots(entries) {
		if i != index {
			if err := removeIfExists(filepath.Join(l.dir, snapshotName(i))); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := syncDir(l.dir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("wal: snapshot %d saved, but removing the files it replaces failed (the next Open retries): %w",
			index, errors.Join(errs...))
	}
	return nil
}

// LastIndex is the index of the last record appended (0 when empty).
func (l *Log) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastIndex
}

// Size is the number of bytes in the segments after the latest snapshot (for deciding when to snapshot).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Close syncs and closes.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	l.closed = true
	err := l.err
	if err == nil {
		err = l.sync()
	}
	if l.f != nil {
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: %w", cerr)
		}
	}
	if cerr := l.lock.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("wal: %w", cerr)
	}
	return err
}

// usable returns why the log cannot be used, if it cannot.
func (l *Log) usable() error {
	if l.closed {
		return errClosed
	}
	return l.err
}

// truncateFile cuts a file to size and makes the cut durable.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
