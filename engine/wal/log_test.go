package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppendReplay(t *testing.T) {
	tests := []struct {
		name     string
		segLimit int64
		n        uint64
		batch    int
		minSegs  int
	}{
		{"empty", 64 << 20, 0, 1, 1},
		{"one record", 64 << 20, 1, 1, 1},
		{"one segment", 64 << 20, 500, 7, 1},
		{"record per segment", 1, 30, 4, 30},
		{"small segments", 1000, 400, 1, 20},
		{"small segments big batches", 4096, 2000, 256, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setSegmentSize(t, tt.segLimit)
			dir := t.TempDir()
			l := mustOpen(t, dir)
			appendRange(t, l, 1, tt.n, tt.batch)
			if got := l.LastIndex(); got != tt.n {
				t.Fatalf("LastIndex = %d, want %d", got, tt.n)
			}
			checkReplay(t, l, 1, tt.n)
			size := l.Size()
			mustClose(t, l)

			segs := segmentFiles(t, dir)
			if len(segs) < tt.minSegs {
				t.Fatalf("%d segments, want at least %d", len(segs), tt.minSegs)
			}
			var onDisk int64
			for _, s := range segs {
				n := fileSize(t, filepath.Join(dir, s))
				if tt.segLimit > 1 && n > tt.segLimit {
					t.Errorf("segment %s is %d bytes, over the limit %d", s, n, tt.segLimit)
				}
				onDisk += n
			}
			if size != onDisk {
				t.Errorf("Size = %d, segments hold %d bytes", size, onDisk)
			}

			l = mustOpen(t, dir)
			defer mustClose(t, l)
			if l.TruncatedBytes() != 0 {
				t.Errorf("TruncatedBytes = %d after a clean close", l.TruncatedBytes())
			}
			if got := l.LastIndex(); got != tt.n {
				t.Fatalf("LastIndex after reopen = %d, want %d", got, tt.n)
			}
			if l.Size() != onDisk {
				t.Errorf("Size after reopen = %d, want %d", l.Size(), onDisk)
			}
			checkReplay(t, l, 1, tt.n)
		})
	}
}

func TestReopenContinues(t *testing.T) {
	for _, syncBeforeClose := range []bool{true, false} {
		name := "close syncs"
		if syncBeforeClose {
			name = "synced"
		}
		t.Run(name, func(t *testing.T) {
			setSegmentSize(t, 2000)
			dir := t.TempDir()
			var last uint64
			for round := range 5 {
				l := mustOpen(t, dir)
				if l.LastIndex() != last {
					t.Fatalf("round %d: LastIndex = %d, want %d", round, l.LastIndex(), last)
				}
				checkReplay(t, l, 1, last)
				n := uint64(round*37 + 1)
				for i := last + 1; i <= last+n; i++ {
					got, err := l.Append(rec(i))
					if err != nil || got != i {
						t.Fatalf("Append = %d, %v; want %d", got, err, i)
					}
				}
				if syncBeforeClose {
					if err := l.Sync(); err != nil {
						t.Fatal(err)
					}
				}
				last += n
				mustClose(t, l)
			}
			l := mustOpen(t, dir)
			defer mustClose(t, l)
			checkReplay(t, l, 1, last)
		})
	}
}

func TestAppendErrors(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	appendRange(t, l, 1, 3, 3)
	if _, err := l.Append(rec(4), make([]byte, maxRecordSize+1)); err == nil {
		t.Fatal("Append of a record over 64 MiB succeeded")
	}
	if l.LastIndex() != 3 {
		t.Fatalf("a refused batch changed LastIndex to %d", l.LastIndex())
	}
	if err := l.WriteSnapshot(4, nil); err == nil {
		t.Fatal("WriteSnapshot after the last record succeeded")
	}
	appendRange(t, l, 4, 5, 1) // the log is still usable
	mustClose(t, l)
	if err := l.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	if _, err := l.Append(rec(6)); err == nil {
		t.Error("Append after Close succeeded")
	}
	l = mustOpen(t, dir)
	defer mustClose(t, l)
	checkReplay(t, l, 1, 5)
}

func TestReplayCallbackError(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer mustClose(t, l)
	appendRange(t, l, 1, 10, 10)
	stop := errors.New("stop")
	n := 0
	err := l.Replay(func(uint64, []byte) error {
		n++
		if n == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 4 {
		t.Fatalf("Replay = %v after %d records, want the callback's error after 4", err, n)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	l2, err := Open(dir)
	if err == nil {
		l2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
	mustClose(t, l)
	l = mustOpen(t, dir) // the lock is released by Close
	mustClose(t, l)
}

func TestOpenIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"notes.txt", "123.wal", "snap-1.bin", "x00000000000000000001.wal"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := mustOpen(t, dir)
	defer mustClose(t, l)
	appendRange(t, l, 1, 3, 1)
	checkReplay(t, l, 1, 3)
}
