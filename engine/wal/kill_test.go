package wal

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const (
	helperEnv    = "GO_WANT_WAL_HELPER"
	helperDirEnv = "WAL_HELPER_DIR"
)

// TestHelperProcess is not a test: run by TestKill9 as a child process, it appends batches of
// records to the log in $WAL_HELPER_DIR, Syncs each batch and then reports "synced <last index>"
// on stdout, snapshotting now and then ("snap <index>"), until it is killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestKill9")
	}
	segmentSizeLimit = 16 << 10 // roll often, so that kills land around rolls too
	l, err := Open(os.Getenv(helperDirEnv))
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	snap, _, err := l.Snapshot()
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	next := l.LastIndex() + 1
	fmt.Printf("ready %d\n", next-1)
	for next < 1_000_000 { // the parent kills us long before; a dead parent's pipe kills us too
		batch := make([][]byte, 1+rng.IntN(40))
		for i := range batch {
			batch[i] = rec(next + uint64(i))
		}
		last, err := l.Append(batch...)
		if err == nil {
			err = l.Sync()
		}
		if err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("synced %d\n", last)
		next = last + 1
		if rng.IntN(30) == 0 {
			s := max(snap, last-uint64(rng.IntN(int(min(last, 50)))))
			if err := l.WriteSnapshot(s, snapData(s)); err != nil {
				fmt.Printf("error %v\n", err)
				os.Exit(2)
			}
			fmt.Printf("snap %d\n", s)
			snap = s
		}
	}
	os.Exit(3)
}

// TestKill9 SIGKILLs a child process that is appending and syncing, at a different point each
// round, and checks that every record (and snapshot) it reported as synced is there afterwards.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	dir := t.TempDir()
	var synced, snapped uint64
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", helperDirEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 20 + round*37 // lines of output
		lines, killed := 0, false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			verb, arg, _ := strings.Cut(sc.Text(), " ")
			n, _ := strconv.ParseUint(arg, 10, 64)
			switch verb {
			case "ready":
				if n < synced {
					t.Fatalf("round %d: child reopened at %d, but %d was synced", round, n, synced)
				}
			case "synced":
				synced = n
			case "snap":
				snapped = n
			default:
				t.Fatalf("round %d: child: %s", round, sc.Text())
			}
			if lines++; lines == killAfter && !killed {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited by itself: %v", round, err)
		}

		l := mustOpen(t, dir)
		last := l.LastIndex()
		if last < synced {
			t.Fatalf("round %d: LastIndex %d after the kill, but %d was synced", round, last, synced)
		}
		index, data, err := l.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if index < snapped || index > last || (index > 0 && string(data) != string(snapData(index))) {
			t.Fatalf("round %d: snapshot %d %q; last acknowledged %d, LastIndex %d", round, index, data, snapped, last)
		}
		checkReplay(t, l, index+1, last)
		t.Logf("round %d: killed after %d synced (snapshot %d); reopened with %d records, %d bytes cut",
			round, synced, index, last, l.TruncatedBytes())
		mustClose(t, l)
		synced = last // the next child continues from here
	}
}
