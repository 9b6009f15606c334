package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := "4242 (pa connector) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Fatalf("CPU = %v, want %v", got, want)
	}
	if _, err := parseStat([]byte("4242 (x) S 1")); err == nil {
		t.Fatal("a short line parsed")
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	m, err := parseStatus([]byte("Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 10<<20 || m.Peak != 20<<20 {
		t.Fatalf("got %+v", m)
	}
	if _, err := parseStatus([]byte("Name:\tkthreadd\n")); err == nil {
		t.Fatal("a status without VmRSS parsed")
	}
}

func TestSelf(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := CPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	m, err := Mem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("implausible memory %+v", m)
	}
}
