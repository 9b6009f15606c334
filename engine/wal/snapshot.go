package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	snapshotPrefix     = "snap-"
	snapshotSuffix     = ".bin"
	tempSuffix         = ".tmp"
	snapshotMagic      = "WSN1"
	snapshotHeaderSize = 4 + 8 + 8 + 4
)

func snapshotName(index uint64) string {
	return fmt.Sprintf("%s%020d%s", snapshotPrefix, index, snapshotSuffix)
}

// parseSnapshotName returns the index of a snapshot file's name, and false for any other name.
func parseSnapshotName(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, snapshotPrefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(s, snapshotSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	index, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return index, true
}

// listSnapshots returns the indexes of the snapshot files in dir, newest first.
func listSnapshots(entries []os.DirEntry) []uint64 {
	var indexes []uint64
	for _, e := range entries {
		if index, ok := parseSnapshotName(e.Name()); ok && e.Type().IsRegular() {
			indexes = append(indexes, index)
		}
	}
	slices.Sort(indexes)
	slices.Reverse(indexes)
	return indexes
}

// encodeSnapshot returns the snapshot file's contents for data covering records <= index.
func encodeSnapshot(index uint64, data []byte) []byte {
	b := make([]byte, snapshotHeaderSize, snapshotHeaderSize+len(data))
	copy(b, snapshotMagic)
	binary.LittleEndian.PutUint64(b[4:12], index)
	binary.LittleEndian.PutUint64(b[12:20], uint64(len(data)))
	crc := crc32.Update(crc32.Update(0, castagnoli, b[:20]), castagnoli, data)
	binary.LittleEndian.PutUint32(b[20:24], crc)
	return append(b, data...)
}

// readSnapshot reads and checks the snapshot file for index and returns its data.
func readSnapshot(dir string, index uint64) ([]byte, error) {
	name := snapshotName(index)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("wal: snapshot %s is corrupt: %s", name, fmt.Sprintf(format, args...))
	}
	if len(b) < snapshotHeaderSize {
		return nil, bad("%d bytes, shorter than its header", len(b))
	}
	if !bytes.Equal(b[:4], []byte(snapshotMagic)) {
		return nil, bad("bad magic %q", b[:4])
	}
	if got := binary.LittleEndian.Uint64(b[4:12]); got != index {
		return nil, bad("header says index %d", got)
	}
	if n := binary.LittleEndian.Uint64(b[12:20]); n != uint64(len(b)-snapshotHeaderSize) {
		return nil, bad("header says %d bytes of data, file has %d", n, len(b)-snapshotHeaderSize)
	}
	data := b[snapshotHeaderSize:]
	if got, want := crc32.Update(crc32.Update(0, castagnoli, b[:20]), castagnoli, data), binary.LittleEndian.Uint32(b[20:24]); got != want {
		return nil, bad("CRC mismatch: computed %08x, header says %08x", got, want)
	}
	return data, nil
}

// writeSnapshot durably saves the snapshot file for index: written to a temporary file,
// fsynced, renamed into place, and the directory fsynced.
func writeSnapshot(dir string, index uint64, data []byte) (err error) {
	final := filepath.Join(dir, snapshotName(index))
	tmp := final + tempSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: writing snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(encodeSnapshot(index, data))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("wal: writing snapshot %s: %w", snapshotName(index), err)
	}
	return nil
}

// loadSnapshot finds the newest valid snapshot among indexes (newest first): its index and data,
// ok false when there are none, and why newer ones were skipped. If there are snapshots but none
// is valid, it fails.
func loadSnapshot(dir string, indexes []uint64) (index uint64, data []byte, ok bool, skipped, err error) {
	var errs []error
	for _, i := range indexes {
		data, err := readSnapshot(dir, i)
		if err == nil {
			return i, data, true, errors.Join(errs...), nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return 0, nil, false, nil, fmt.Errorf("wal: no valid snapshot in %s: %w", dir, errors.Join(errs...))
	}
	return 0, nil, false, nil, nil
}
