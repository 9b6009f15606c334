// Package export writes the engine's records as JSON lines, one compact record per line in the
// shape of Zeebe's debug exporter, to a file that survives restarts and is rotated at a size
// cap (one older file is kept).
package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/pa-connector/pa-connector/engine"
)

// File is a JSON-lines exporter.
type File struct {
	path    string
	max     int64
	f       *os.File
	w       *bufio.Writer
	enc     *json.Encoder
	size    int64
	lastPos int64
}

// Open opens (appending to) the records file at path; maxBytes > 0 rotates it to path+".1"
// when it grows past that size. A torn last line (a crash mid-write) is cut.
func Open(path string, maxBytes int64) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the records file: %w", err)
	}
	x := &File{path: path, max: maxBytes, f: f, lastPos: -1}
	size, last, err := tail(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	x.size, x.lastPos = size, last
	if last < 0 {
		if g, err := os.Open(path + ".1"); err == nil {
			_, x.lastPos, _ = tail(g)
			g.Close()
		}
	}
	x.w = bufio.NewWriterSize(f, 256<<10)
	x.enc = json.NewEncoder(x.w)
	x.enc.SetEscapeHTML(false)
	return x, nil
}

// tail returns the length of f up to its last complete line and the position of the last
// record in it (-1 when none).
func tail(f *os.File) (int64, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, -1, err
	}
	end := st.Size()
	const chunk = 1 << 20
	start := end - chunk
	if start < 0 {
		start = 0
	}
	buf := make([]byte, end-start)
	if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
		return 0, -1, err
	}
	nl := bytes.LastIndexByte(buf, '\n')
	if nl < 0 {
		if start == 0 {
			return 0, -1, nil
		}
		return end, -1, nil
	}
	size := start + int64(nl) + 1
	lines := bytes.Split(buf[:nl], []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		var r struct {
			Position *int64 `json:"position"`
		}
		if len(lines[i]) > 0 && lines[i][0] == '{' && json.Unmarshal(lines[i], &r) == nil && r.Position != nil {
			return size, *r.Position, nil
		}
	}
	return size, -1, nil
}

// LastPosition is the position of the last record written.
func (x *File) LastPosition() int64 { return x.lastPos }

// Export appends records and hands them to the operating system (no fsync: the log is the
// durable copy, and records lost with the machine are written again from it).
func (x *File) Export(records []engine.Record) error {
	for i := range records {
		if err := x.enc.Encode(&records[i]); err != nil {
			return err
		}
		x.lastPos = records[i].Position
	}
	x.size += int64(x.w.Buffered())
	if err := x.w.Flush(); err != nil {
		return err
	}
	if x.max > 0 && x.size > x.max {
		return x.rotate()
	}
	return nil
}

func (x *File) rotate() error {
	if err := x.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(x.path, x.path+".1"); err != nil {
		return err
	}
	f, err := os.OpenFile(x.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	x.f, x.size = f, 0
	x.w.Reset(f)
	return nil
}

// Close flushes and closes the file.
func (x *File) Close() error {
	if err := x.w.Flush(); err != nil {
		x.f.Close()
		return err
	}
	return x.f.Close()
}

// String names the file.
func (x *File) String() string {
	return x.path + " (last position " + strconv.FormatInt(x.lastPos, 10) + ")"
}
