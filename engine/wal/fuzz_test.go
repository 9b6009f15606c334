package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// referenceFrames parses a segment file's bytes independently of frame.go: the records of the
// longest prefix of valid frames, and that prefix's length.
func referenceFrames(b []byte) (records [][]byte, valid int) {
	for len(b)-valid >= 8 {
		n := binary.LittleEndian.Uint32(b[valid:])
		if n > 64<<20 || uint64(len(b)-valid-8) < uint64(n) {
			break
		}
		frame := b[valid : valid+8+int(n)]
		crc := crc32.Checksum(append(append([]byte{}, frame[:4]...), frame[8:]...), crc32.MakeTable(crc32.Castagnoli))
		if crc != binary.LittleEndian.Uint32(frame[4:8]) {
			break
		}
		records = append(records, frame[8:])
		valid += len(frame)
	}
	return records, valid
}

// FuzzOpenCorruptTail writes random bytes after valid records: Open must succeed, cut exactly
// what does not parse, and Replay must return exactly the valid prefix (the records written, plus
// any frames the random bytes happen to form).
func FuzzOpenCorruptTail(f *testing.F) {
	var hdr [frameHeaderSize]byte
	putFrameHeader(&hdr, []byte("valid"))
	f.Add(uint8(3), []byte{})
	f.Add(uint8(0), []byte{1, 2, 3})
	f.Add(uint8(5), make([]byte, 64))
	f.Add(uint8(2), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1})
	f.Add(uint8(1), append(hdr[:], "valid"...))
	f.Add(uint8(4), append(hdr[:], "vali"...))
	f.Add(uint8(4), append(append(hdr[:], "valid"...), 0, 0))
	f.Fuzz(func(t *testing.T, n uint8, tail []byte) {
		count := uint64(n % 20)
		dir := t.TempDir()
		// The segment as Append writes it (built directly: fsyncs would slow fuzzing down).
		var file []byte
		var hdr [frameHeaderSize]byte
		for i := uint64(1); i <= count; i++ {
			putFrameHeader(&hdr, rec(i))
			file = append(append(file, hdr[:]...), rec(i)...)
		}
		file = append(file, tail...)
		path := filepath.Join(dir, segmentName(1))
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		want, valid := referenceFrames(file)
		if uint64(len(want)) < count {
			t.Fatalf("reference parser found %d records, %d were written", len(want), count)
		}

		l, err := Open(dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		if got := l.TruncatedBytes(); got != int64(len(file)-valid) {
			t.Fatalf("TruncatedBytes = %d, want %d", got, len(file)-valid)
		}
		if got := l.LastIndex(); got != uint64(len(want)) {
			t.Fatalf("LastIndex = %d, want %d", got, len(want))
		}
		var got [][]byte
		if err := l.Replay(func(index uint64, data []byte) error {
			if index != uint64(len(got))+1 {
				t.Fatalf("Replay gave index %d after %d records", index, len(got))
			}
			got = append(got, data)
			return nil
		}); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("Replay returned %d records, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) || (uint64(i) < count && !bytes.Equal(got[i], rec(uint64(i)+1))) {
				t.Fatalf("record %d = %q, want %q", i+1, got[i], want[i])
			}
		}
		// The log carries on after the valid prefix.
		next := uint64(len(want)) + 1
		if last, err := l.Append([]byte("after")); err != nil || last != next {
			t.Fatalf("Append = %d, %v; want %d", last, err, next)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Size() != int64(valid)+frameHeaderSize+5 {
			t.Fatalf("segment is %d bytes, want %d", st.Size(), valid+frameHeaderSize+5)
		}
	})
}
