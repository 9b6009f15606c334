package wal

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// segmentSizeLimit is the size at which the log rolls over to a new segment (a record larger
// than it gets a segment of its own). A variable so that tests can lower it.
var segmentSizeLimit int64 = 64 << 20

const segmentSuffix = ".wal"

// segment is one segment file of the log: the index of its first record and its size in bytes
// (for the current segment, including bytes still in the write buffer).
type segment struct {
	first uint64
	size  int64
}

func segmentName(first uint64) string { return fmt.Sprintf("%020d%s", first, segmentSuffix) }

// parseSegmentName returns the first index of a segment file's name, and false for any other name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	first, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || first == 0 {
		return 0, false
	}
	return first, true
}

// listSegments returns the first indexes of the segment files in dir, in increasing order.
func listSegments(entries []os.DirEntry) []uint64 {
	var firsts []uint64
	for _, e := range entries {
		if first, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			firsts = append(firsts, first)
		}
	}
	slices.Sort(firsts)
	return firsts
}

// scanSegment reads every frame of a segment file and returns how many records it holds and
// the size of the readable prefix. With tail set (the last segment), an unreadable frame ends
// the prefix; otherwise it is an error. fileSize is the file's actual size.
func scanSegment(path string, tail bool) (count uint64, valid, fileSize int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, 0, err
	}
	fr := newFrameReader(f, st.Size(), true)
	for {
		_, err := fr.next()
		if err == io.EOF {
			return count, fr.offset, st.Size(), nil
		}
		if err != nil {
			if tail && isFrameDamage(err) {
				return count, fr.offset, st.Size(), nil
			}
			return 0, 0, 0, fmt.Errorf("wal: segment %s: record %d at offset %d: %w",
				filepath.Base(path), count+1, fr.offset, err)
		}
		count++
	}
}
