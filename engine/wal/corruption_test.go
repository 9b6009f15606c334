package wal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// buildLog writes records 1..n with the given roll size into a fresh directory and closes it.
func buildLog(t *testing.T, segLimit int64, n uint64) string {
	t.Helper()
	setSegmentSize(t, segLimit)
	dir := t.TempDir()
	l := mustOpen(t, dir)
	appendRange(t, l, 1, n, 5)
	mustClose(t, l)
	return dir
}

// checkTruncated opens dir and checks that records 1..want survive, cut bytes were cut, and
// appending continues at want+1 (also after another reopen).
func checkTruncated(t *testing.T, dir string, want uint64, cut int64) {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := l.TruncatedBytes(); got != cut {
		t.Errorf("TruncatedBytes = %d, want %d", got, cut)
	}
	if got := l.LastIndex(); got != want {
		t.Fatalf("LastIndex = %d, want %d", got, want)
	}
	checkReplay(t, l, 1, want)
	appendRange(t, l, want+1, want+1, 1)
	mustClose(t, l)
	l = mustOpen(t, dir)
	defer mustClose(t, l)
	if l.TruncatedBytes() != 0 {
		t.Errorf("TruncatedBytes = %d on the second Open", l.TruncatedBytes())
	}
	checkReplay(t, l, 1, want+1)
}

func TestTornTail(t *testing.T) {
	const n = 43 // a short last record (11 bytes of data), to keep the number of cases down
	tests := []struct {
		name     string
		segLimit int64
	}{
		{"single segment", 64 << 20},
		{"last of several segments", 1500},
		{"alone in last segment", 1}, // the torn frame is the only one of its segment
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := buildLog(t, tt.segLimit, n)
			segs := segmentFiles(t, orig)
			last := segs[len(segs)-1]
			end := fileSize(t, filepath.Join(orig, last))
			start := end - frameLen(n)
			if start < 0 {
				t.Fatalf("last segment %s is %d bytes, shorter than record %d's frame", last, end, n)
			}
			dir := copyDir(t, orig)
			for keep := start; keep < end; keep++ { // every byte offset of the last frame
				restoreLog(t, dir, segs, last, func(b []byte) []byte { return b[:keep] })
				checkTruncated(t, dir, n-1, keep-start)
				if t.Failed() {
					t.Fatalf("torn at offset %d of the last frame", keep-start)
				}
			}
		})
	}
}

// restoreLog puts dir back to the segments segs (removing any created since, which is cheaper
// than copying a directory per case) with the contents of segment last, as written by buildLog,
// replaced by edit(contents).
func restoreLog(t *testing.T, dir string, segs []string, last string, edit func([]byte) []byte) {
	t.Helper()
	for _, s := range segmentFiles(t, dir) {
		if !slices.Contains(segs, s) {
			if err := os.Remove(filepath.Join(dir, s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(dir, last)
	if _, err := os.Stat(path + ".orig"); err != nil {
		copyFile(t, path, path+".orig")
	}
	b, err := os.ReadFile(path + ".orig")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptLastRecord(t *testing.T) {
	const n = 43
	for _, segLimit := range []int64{64 << 20, 1000} {
		orig := buildLog(t, segLimit, n)
		segs := segmentFiles(t, orig)
		last := segs[len(segs)-1]
		end := fileSize(t, filepath.Join(orig, last))
		start := end - frameLen(n)
		dir := copyDir(t, orig)
		for off := start; off < end; off++ { // length, CRC and data bytes
			restoreLog(t, dir, segs, last, func(b []byte) []byte {
				b[off] ^= 1 << (off % 8)
				return b
			})
			checkTruncated(t, dir, n-1, frameLen(n))
			if t.Failed() {
				t.Fatalf("segment limit %d: bit flipped at offset %d of the last frame", segLimit, off-start)
			}
		}
	}
}

func TestGarbageTail(t *testing.T) {
	tests := []struct {
		name string
		tail []byte
	}{
		{"zeros", make([]byte, 4096)},
		{"short zeros", make([]byte, 5)},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5}},
		{"length just over the cap", []byte{0x01, 0x00, 0x00, 0x04, 0, 0, 0, 0}},
		{"ones", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := buildLog(t, 64<<20, 10)
			f, err := os.OpenFile(filepath.Join(dir, segmentName(1)), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tt.tail); err != nil {
				t.Fatal(err)
			}
			f.Close()
			checkTruncated(t, dir, 10, int64(len(tt.tail)))
		})
	}
}

// Damage anywhere but the last segment's tail cannot come from a crash: Open must refuse.
func TestCorruptEarlierSegment(t *testing.T) {
	const n = 60
	orig := buildLog(t, 1000, n)
	segs := segmentFiles(t, orig)
	if len(segs) < 4 {
		t.Fatalf("only %d segments", len(segs))
	}
	mid := segs[len(segs)/2]
	midSize := fileSize(t, filepath.Join(orig, mid))
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"flipped length bit", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, mid), 0, 0) }},
		{"flipped high length bit", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, mid), 3, 7) }},
		{"flipped CRC bit", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, mid), 5, 3) }},
		{"flipped data bit", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, mid), 12, 1) }},
		{"flipped bit in its last record", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, mid), midSize-1, 6) }},
		{"flipped bit in the first segment", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, segs[0]), 9, 2) }},
		{"torn", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, mid), midSize-3); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage after its end", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, mid))
			os.WriteFile(filepath.Join(dir, mid), append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0o644)
		}},
		{"missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, mid)) }},
		{"last record cut off", func(t *testing.T, dir string) { // the next segment no longer follows on
			first, _ := parseSegmentName(mid)
			next, _ := parseSegmentName(segs[len(segs)/2+1])
			size := int64(0)
			for i := first; i < next-1; i++ {
				size += frameLen(i)
			}
			os.Truncate(filepath.Join(dir, mid), size)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, orig)
			tt.damage(t, dir)
			l, err := Open(dir)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			// A failed Open releases the lock and changes nothing: the next one fails the same way.
			if _, err2 := Open(dir); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("second Open: %v", err2)
			}
		})
	}
}
