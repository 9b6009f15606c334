package wal

import (
	"fmt"
	"testing"
)

// BenchmarkAppendSync measures group commit: one Append of a batch of 300-byte records and one
// Sync per operation; ns/record is the cost per acknowledged record.
func BenchmarkAppendSync(b *testing.B) {
	for _, batch := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			records := make([][]byte, batch)
			for i := range records {
				records[i] = make([]byte, 300)
				records[i][0] = byte(i)
			}
			b.SetBytes(int64(300 * batch))
			b.ResetTimer()
			for b.Loop() {
				if _, err := l.Append(records...); err != nil {
					b.Fatal(err)
				}
				if err := l.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
		})
	}
}

// BenchmarkAppend measures the CPU cost of framing and buffering alone (no fsync).
func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	record := make([]byte, 300)
	b.SetBytes(300)
	for b.Loop() {
		if _, err := l.Append(record); err != nil {
			b.Fatal(err)
		}
	}
}
