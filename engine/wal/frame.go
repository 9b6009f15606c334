package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	// frameHeaderSize is the length and CRC before each record's data.
	frameHeaderSize = 8
	// maxRecordSize caps a record; a frame claiming more is corrupt.
	maxRecordSize = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a frame is unreadable. On the last segment's tail they mean a torn or garbled write
// and the tail is cut; anywhere else they are corruption.
var (
	errTornFrame = errors.New("torn frame")
	errBadLength = errors.New("record length over 64 MiB")
	errBadCRC    = errors.New("CRC mismatch")
)

// frameCRC is the CRC-32C of a frame's length bytes followed by its data.
func frameCRC(lengthBytes, data []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lengthBytes), castagnoli, data)
}

// putFrameHeader fills hdr with the length and CRC of data.
func putFrameHeader(hdr *[frameHeaderSize]byte, data []byte) {
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(data)))
	binary.LittleEndian.PutUint32(hdr[4:8], frameCRC(hdr[0:4], data))
}

// frameReader reads the frames of one segment file of known size.
type frameReader struct {
	r         *bufio.Reader
	remaining int64 // bytes of the file not read yet
	offset    int64 // offset of the next frame
	reuse     bool  // return data in a reused buffer (only for scanning)
	buf       []byte
}

func newFrameReader(r io.Reader, size int64, reuse bool) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 256<<10), remaining: size, reuse: reuse}
}

// next returns the next record's data; io.EOF at the clean end of the file; errTornFrame,
// errBadLength or errBadCRC (wrapped) for an unreadable frame, which leaves offset at its start;
// any other error is an I/O error.
func (fr *frameReader) next() ([]byte, error) {
	if fr.remaining == 0 {
		return nil, io.EOF
	}
	if fr.remaining < frameHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes left, header needs %d", errTornFrame, fr.remaining, frameHeaderSize)
	}
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading frame header: %w", noEOF(err))
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n > maxRecordSize {
		return nil, fmt.Errorf("%w: %d", errBadLength, n)
	}
	if int64(n) > fr.remaining-frameHeaderSize {
		return nil, fmt.Errorf("%w: record of %d bytes, %d left", errTornFrame, n, fr.remaining-frameHeaderSize)
	}
	var data []byte
	if fr.reuse {
		if cap(fr.buf) < int(n) {
			fr.buf = make([]byte, n)
		}
		data = fr.buf[:n]
	} else {
		data = make([]byte, n)
	}
	if _, err := io.ReadFull(fr.r, data); err != nil {
		return nil, fmt.Errorf("reading record: %w", noEOF(err))
	}
	if got, want := frameCRC(hdr[0:4], data), binary.LittleEndian.Uint32(hdr[4:8]); got != want {
		return nil, fmt.Errorf("%w: computed %08x, frame says %08x", errBadCRC, got, want)
	}
	size := frameHeaderSize + int64(n)
	fr.remaining -= size
	fr.offset += size
	return data, nil
}

// isFrameDamage reports whether err from next means an unreadable frame (not an I/O error).
func isFrameDamage(err error) bool {
	return errors.Is(err, errTornFrame) || errors.Is(err, errBadLength) || errors.Is(err, errBadCRC)
}

// noEOF turns EOF while reading bytes the file's size promised into an error that is not
// mistaken for the clean end of the file (the file shrank under us).
func noEOF(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("file shorter than its size")
	}
	return err
}
