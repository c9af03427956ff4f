// Command testtimes reads `go test -json` on stdin and prints what plain `go test` would (one
// line per package, and the output of failing tests), then the slowest tests. It exits 1
// when a test or package failed or nothing was read, so `go test -json ./... | testtimes`
// keeps go test's verdict even in a shell without pipefail.
//
//	go test -json ./... | go run ./scripts/testtimes -n 10
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type timing struct {
	name    string
	seconds float64
}

func main() {
	n := flag.Int("n", 10, "how many of the slowest tests to list")
	flag.Parse()
	ok, err := summarize(os.Stdin, os.Stdout, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtimes:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// printUnfinished prints, in test-name order, the kept output of pkg's tests that have no
// verdict, and forgets it.
func printUnfinished(w io.Writer, pending map[string][]string, pkg string) {
	var keys []string
	for key := range pending {
		if strings.HasPrefix(key, pkg+" ") && key != pkg+" " {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		fmt.Fprintf(w, "--- output of %s, which never finished:\n", strings.TrimPrefix(key, pkg+" "))
		for _, line := range pending[key] {
			fmt.Fprint(w, line)
		}
		delete(pending, key)
	}
}

// summarize copies the readable part of the stream to w as it arrives, then lists the n
// slowest tests (subtests included). It reports whether everything passed.
func summarize(r io.Reader, w io.Writer, n int) (ok bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	pending := map[string][]string{} // test output kept until the test's verdict
	var times []timing
	events, failed := 0, false
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event (e.g. a build error printed before the stream): show it as is.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		events++
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test != "" {
				pending[key] = append(pending[key], e.Output)
			} else if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
				fmt.Fprint(w, e.Output)
			}
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "pass", "fail", "skip":
			if e.Action == "fail" {
				failed = true
				for _, line := range pending[key] {
					fmt.Fprint(w, line)
				}
				if e.Test == "" {
					// A package that fails with tests still running was killed (its
					// timeout, a signal, a panic elsewhere): their output holds the
					// goroutine dump that says where they hung.
					printUnfinished(w, pending, e.Package)
				}
			}
			delete(pending, key)
			if e.Test != "" && e.Action != "skip" {
				times = append(times, timing{e.Package + "." + e.Test, e.Elapsed})
			}
		case "build-fail":
			failed = true
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("reading the test stream: %w", err)
	}
	if events == 0 {
		return false, fmt.Errorf("no test events on stdin (was go test run with -json?)")
	}
	sort.SliceStable(times, func(i, j int) bool { return times[i].seconds > times[j].seconds })
	if len(times) > n {
		times = times[:n]
	}
	fmt.Fprintf(w, "\n== the %d slowest tests\n", len(times))
	for _, t := range times {
		fmt.Fprintf(w, "%8.2fs  %s\n", t.seconds, t.name)
	}
	return !failed, nil
}
