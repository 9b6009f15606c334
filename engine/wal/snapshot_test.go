package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func snapData(index uint64) []byte { return fmt.Appendf(nil, "state after %d", index) }

func checkSnapshot(t *testing.T, l *Log, want uint64) {
	t.Helper()
	for range 2 { // the first call hands over what Open read, the second reads the file
		index, data, err := l.Snapshot()
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if index != want || !bytes.Equal(data, snapData(want)) {
			t.Fatalf("Snapshot = %d, %q; want %d, %q", index, data, want, snapData(want))
		}
	}
}

func TestNoSnapshot(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer mustClose(t, l)
	index, data, err := l.Snapshot()
	if index != 0 || data != nil || err != nil {
		t.Fatalf("Snapshot = %d, %q, %v; want 0, nil, nil", index, data, err)
	}
}

func TestSnapshotReplay(t *testing.T) {
	const n = 100
	tests := []struct {
		name     string
		segLimit int64
		snaps    []uint64 // WriteSnapshot calls in order, all after appending 1..n
	}{
		{"at the last record", 64 << 20, []uint64{n}},
		{"in the middle", 64 << 20, []uint64{40}},
		{"at zero", 64 << 20, []uint64{0}},
		{"small segments at the last record", 1200, []uint64{n}},
		{"small segments in the middle", 1200, []uint64{57}},
		{"small segments, several", 1200, []uint64{10, 10, 50, 99}},
		{"one record per segment", 1, []uint64{30, 31}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setSegmentSize(t, tt.segLimit)
			dir := t.TempDir()
			l := mustOpen(t, dir)
			appendRange(t, l, 1, n, 9)
			sizeBefore := l.Size()
			for _, s := range tt.snaps {
				if err := l.WriteSnapshot(s, snapData(s)); err != nil {
					t.Fatalf("WriteSnapshot(%d): %v", s, err)
				}
			}
			snap := tt.snaps[len(tt.snaps)-1]
			checkSnapshot(t, l, snap)
			checkReplay(t, l, snap+1, n)
			if snap == n && l.Size() != 0 {
				t.Errorf("Size = %d after a snapshot of everything", l.Size())
			}
			if snap > 0 && tt.segLimit < 64<<20 && l.Size() >= sizeBefore {
				t.Errorf("Size = %d after the snapshot, %d before", l.Size(), sizeBefore)
			}
			appendRange(t, l, n+1, n+20, 3)
			checkReplay(t, l, snap+1, n+20)
			mustClose(t, l)

			// Only the latest snapshot is left, and no segment whose records are all covered.
			entries, _ := os.ReadDir(dir)
			if got := listSnapshots(entries); !slices.Equal(got, []uint64{snap}) {
				t.Errorf("snapshot files %v, want only %d", got, snap)
			}
			firsts := listSegments(entries)
			for i := 0; i+1 < len(firsts); i++ {
				if firsts[i+1]-1 <= snap {
					t.Errorf("segment %d (records up to %d) survived the snapshot at %d", firsts[i], firsts[i+1]-1, snap)
				}
			}

			l = mustOpen(t, dir)
			defer mustClose(t, l)
			if l.LastIndex() != n+20 {
				t.Fatalf("LastIndex = %d, want %d", l.LastIndex(), n+20)
			}
			checkSnapshot(t, l, snap)
			checkReplay(t, l, snap+1, n+20)
		})
	}
}

func TestSnapshotOfEverythingThenReopen(t *testing.T) {
	// After a snapshot of every record, the log is a single empty segment; the next record
	// must still get the next index, with and without appends in between.
	dir := t.TempDir()
	l := mustOpen(t, dir)
	appendRange(t, l, 1, 10, 10)
	if err := l.WriteSnapshot(10, snapData(10)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{segmentName(11)}) {
		t.Fatalf("segments %v, want only %s", got, segmentName(11))
	}
	l = mustOpen(t, dir)
	if l.LastIndex() != 10 {
		t.Fatalf("LastIndex = %d, want 10", l.LastIndex())
	}
	checkReplay(t, l, 11, 10)
	appendRange(t, l, 11, 12, 1)
	mustClose(t, l)
	l = mustOpen(t, dir)
	defer mustClose(t, l)
	checkSnapshot(t, l, 10)
	checkReplay(t, l, 11, 12)
}

func TestWriteSnapshotErrors(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer mustClose(t, l)
	appendRange(t, l, 1, 10, 10)
	if err := l.WriteSnapshot(11, nil); err == nil {
		t.Error("snapshot after the last record succeeded")
	}
	if err := l.WriteSnapshot(5, snapData(5)); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteSnapshot(4, nil); err == nil {
		t.Error("snapshot before the current one succeeded")
	}
	checkSnapshot(t, l, 5)
}

// TestWriteSnapshotCrash rebuilds the directory as a crash at each point of WriteSnapshot
// would leave it, from the files before and after a real WriteSnapshot.
func TestWriteSnapshotCrash(t *testing.T) {
	setSegmentSize(t, 1000)
	before := t.TempDir()
	l := mustOpen(t, before)
	appendRange(t, l, 1, 20, 4)
	if err := l.WriteSnapshot(5, snapData(5)); err != nil {
		t.Fatal(err)
	}
	appendRange(t, l, 21, 40, 4)
	mustClose(t, l)
	after := copyDir(t, before)
	l = mustOpen(t, after)
	if err := l.WriteSnapshot(30, snapData(30)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	newSnap := snapshotName(30)
	oldSegs := segmentFiles(t, before)
	if len(oldSegs) < 4 {
		t.Fatalf("only %d segments", len(oldSegs))
	}
	if slices.Equal(oldSegs, segmentFiles(t, after)) {
		t.Fatal("WriteSnapshot deleted no segment")
	}

	tests := []struct {
		name     string
		base     string // directory to start from
		add      []snapFile
		remove   []string
		wantSnap uint64
	}{
		{"temp file half written", before, []snapFile{{after, newSnap + ".tmp:half"}}, nil, 5},
		{"temp file written, not renamed", before, []snapFile{{after, newSnap + ".tmp"}}, nil, 5},
		{"renamed, old files all there", before, []snapFile{{after, newSnap}}, nil, 30},
		{"new segment created, nothing deleted", after, addAll(before, oldSegs), nil, 30},
		{"some old segments deleted", after, addAll(before, everyOther(oldSegs)), nil, 30},
		{"old segments deleted, old snapshot not", after, []snapFile{{before, snapshotName(5)}}, nil, 30},
		{"old snapshot deleted, old segments not", after, addAll(before, oldSegs), []string{snapshotName(5)}, 30},
		{"newest old segment deleted first", after, addAll(before, oldSegs[:len(oldSegs)-2]), nil, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, tt.base)
			for _, f := range tt.add {
				name, half := strings.CutSuffix(f.name, ":half")
				src := strings.TrimSuffix(name, ".tmp")
				b, err := os.ReadFile(filepath.Join(f.from, src))
				if err != nil {
					t.Fatal(err)
				}
				if half {
					b = b[:len(b)/2]
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tt.remove {
				os.Remove(filepath.Join(dir, name))
			}
			l := mustOpen(t, dir)
			checkSnapshot(t, l, tt.wantSnap)
			if l.LastIndex() != 40 {
				t.Fatalf("LastIndex = %d, want 40", l.LastIndex())
			}
			checkReplay(t, l, tt.wantSnap+1, 40)
			appendRange(t, l, 41, 45, 2)
			mustClose(t, l)

			// Open finished the clean-up: no temp file, no older snapshot, no covered segment.
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".tmp") {
					t.Errorf("temp file %s left", e.Name())
				}
			}
			if got := listSnapshots(entries); !slices.Equal(got, []uint64{tt.wantSnap}) {
				t.Errorf("snapshots %v, want only %d", got, tt.wantSnap)
			}
			firsts := listSegments(entries)
			for i := 0; i+1 < len(firsts); i++ {
				if firsts[i+1]-1 <= tt.wantSnap {
					t.Errorf("segment %d (records up to %d) left", firsts[i], firsts[i+1]-1)
				}
			}
			l = mustOpen(t, dir)
			defer mustClose(t, l)
			checkSnapshot(t, l, tt.wantSnap)
			checkReplay(t, l, tt.wantSnap+1, 45)
		})
	}
}

// snapFile is a file to copy into a rebuilt directory: name from directory from; a name ending
// in ".tmp" is the file without it under that name, and ".tmp:half" its first half.
type snapFile struct{ from, name string }

func addAll(from string, names []string) []snapFile {
	var files []snapFile
	for _, n := range names {
		files = append(files, snapFile{from, n})
	}
	return files
}

func everyOther(names []string) []string {
	var out []string
	for i := 0; i < len(names); i += 2 {
		out = append(out, names[i])
	}
	return out
}

func TestCorruptSnapshot(t *testing.T) {
	setSegmentSize(t, 1000)
	// Two snapshots (5 and 30) with all segments still there, as an interrupted clean-up leaves them.
	base := t.TempDir()
	l := mustOpen(t, base)
	appendRange(t, l, 1, 40, 4)
	if err := l.WriteSnapshot(5, snapData(5)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	saved := copyDir(t, base)
	l = mustOpen(t, base)
	if err := l.WriteSnapshot(30, snapData(30)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)

	corrupt := func(t *testing.T, dir string, index uint64) {
		path := filepath.Join(dir, snapshotName(index))
		flipBit(t, path, fileSize(t, path)-1, 0)
	}
	t.Run("falls back to the previous snapshot", func(t *testing.T) {
		dir := copyDir(t, saved)
		for _, name := range []string{snapshotName(30)} {
			copyFile(t, filepath.Join(base, name), filepath.Join(dir, name))
		}
		corrupt(t, dir, 30)
		l := mustOpen(t, dir)
		defer mustClose(t, l)
		checkSnapshot(t, l, 5)
		checkReplay(t, l, 6, 40)
	})
	t.Run("previous snapshot's records deleted", func(t *testing.T) {
		dir := copyDir(t, base)
		copyFile(t, filepath.Join(saved, snapshotName(5)), filepath.Join(dir, snapshotName(5)))
		corrupt(t, dir, 30)
		if l, err := Open(dir); err == nil {
			l.Close()
			t.Fatal("Open succeeded with records 6..30 gone")
		} else {
			t.Log(err)
		}
	})
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"flipped data bit", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"flipped CRC bit", func(b []byte) []byte { b[21] ^= 4; return b }},
		{"flipped index bit", func(b []byte) []byte { b[4] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"header cut", func(b []byte) []byte { return b[:10] }},
		{"empty", func(b []byte) []byte { return nil }},
		{"extended", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, tt := range tests {
		t.Run("only snapshot "+tt.name, func(t *testing.T) {
			dir := copyDir(t, base)
			path := filepath.Join(dir, snapshotName(30))
			b, _ := os.ReadFile(path)
			os.WriteFile(path, tt.damage(b), 0o644)
			if l, err := Open(dir); err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			} else if !strings.Contains(err.Error(), "snapshot") {
				t.Errorf("error %q does not mention the snapshot", err)
			}
		})
	}
}
