package wal

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// rec is the deterministic content of record i: varying lengths, including empty records.
func rec(i uint64) []byte {
	if i%17 == 0 {
		return []byte{}
	}
	return fmt.Appendf(nil, "record-%d:%s", i, bytes.Repeat([]byte{byte('a' + i%26)}, int(i*7%300)))
}

// frameLen is the size of record i's frame.
func frameLen(i uint64) int64 { return frameHeaderSize + int64(len(rec(i))) }

// setSegmentSize lowers the roll size for one test.
func setSegmentSize(t testing.TB, n int64) {
	old := segmentSizeLimit
	segmentSizeLimit = n
	t.Cleanup(func() { segmentSizeLimit = old })
}

func mustOpen(t testing.TB, dir string) *Log {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// appendRange appends rec(from..to) in batches of batch records and syncs.
func appendRange(t testing.TB, l *Log, from, to uint64, batch int) {
	t.Helper()
	for i := from; i <= to; {
		var recs [][]byte
		first := i
		for ; i <= to && len(recs) < batch; i++ {
			recs = append(recs, rec(i))
		}
		last, err := l.Append(recs...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if want := first + uint64(len(recs)) - 1; last != want {
			t.Fatalf("Append returned %d, want %d", last, want)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// replayed returns the indexes Replay yields, checking each record's content.
func replayed(t testing.TB, l *Log) []uint64 {
	t.Helper()
	var got []uint64
	err := l.Replay(func(index uint64, data []byte) error {
		if !bytes.Equal(data, rec(index)) {
			t.Fatalf("record %d: got %q, want %q", index, data, rec(index))
		}
		got = append(got, index)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

// checkReplay checks that Replay yields exactly records from..to.
func checkReplay(t testing.TB, l *Log, from, to uint64) {
	t.Helper()
	got := replayed(t, l)
	var want []uint64
	for i := from; i <= to; i++ {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Replay yielded %d records %v, want %d..%d", len(got), abbrev(got), from, to)
	}
}

func abbrev(s []uint64) []uint64 {
	if len(s) > 10 {
		return append(slices.Clip(s[:5]), s[len(s)-5:]...)
	}
	return s
}

// segmentFiles returns the segment file names in dir, in order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, first := range listSegments(entries) {
		names = append(names, segmentName(first))
	}
	return names
}

// copyDir copies the regular files of src into a new directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
	}
	return dst
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// flipBit flips one bit of the byte at off in the file.
func flipBit(t testing.TB, path string, off int64, bit uint) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 1 << bit
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
