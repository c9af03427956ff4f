package errcount

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// logLines decodes the JSON lines a slog.JSONHandler wrote.
func logLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("decode log line: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func TestCounterLogsOncePerBurst(t *testing.T) {
	type step struct {
		after time.Duration // clock moves this much before the error
		op    Op
	}
	boom := errors.New("boom")
	tests := []struct {
		name  string
		steps []step
		// wantLogs are the logged lines, each as op and how many it says were not logged.
		wantLogs []struct {
			op         Op
			suppressed float64
		}
		wantCount map[Op]int64
	}{
		{
			name:  "a burst of one op is one line",
			steps: []step{{0, RoomStats}, {time.Second, RoomStats}, {time.Second, RoomStats}, {time.Second, RoomStats}},
			wantLogs: []struct {
				op         Op
				suppressed float64
			}{{RoomStats, 0}},
			wantCount: map[Op]int64{RoomStats: 4},
		},
		{
			name:  "the next line after the interval says how many were kept quiet",
			steps: []step{{0, RoomStats}, {time.Second, RoomStats}, {time.Second, RoomStats}, {10 * time.Second, RoomStats}},
			wantLogs: []struct {
				op         Op
				suppressed float64
			}{{RoomStats, 0}, {RoomStats, 2}},
			wantCount: map[Op]int64{RoomStats: 4},
		},
		{
			name:  "ops are limited apart",
			steps: []step{{0, RoomStats}, {0, RelayIndex}, {time.Second, RoomStats}, {time.Second, RelayIndex}},
			wantLogs: []struct {
				op         Op
				suppressed float64
			}{{RoomStats, 0}, {RelayIndex, 0}},
			wantCount: map[Op]int64{RoomStats: 2, RelayIndex: 2, RelayNotice: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			now := time.Unix(1_700_000_000, 0)
			c := newWithClock(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second, func() time.Time { return now })
			for _, s := range tt.steps {
				now = now.Add(s.after)
				c.Add(s.op, boom)
			}
			lines := logLines(t, buf.String())
			if len(lines) != len(tt.wantLogs) {
				t.Fatalf("logged %d lines, want %d: %v", len(lines), len(tt.wantLogs), lines)
			}
			for i, w := range tt.wantLogs {
				if lines[i]["op"] != string(w.op) || lines[i]["suppressed"] != w.suppressed || lines[i]["err"] != "boom" {
					t.Errorf("line %d = %v, want op %s suppressed %v err boom", i, lines[i], w.op, w.suppressed)
				}
			}
			for op, want := range tt.wantCount {
				if got := c.Count(op); got != want {
					t.Errorf("Count(%s) = %d, want %d", op, got, want)
				}
			}
		})
	}
}

func TestCounterIgnoresNil(t *testing.T) {
	c := New(nil, 0)
	c.Add(RoomStats, nil)
	if n := c.Count(RoomStats); n != 0 {
		t.Fatalf("a nil error counted: %d", n)
	}
	var none *Counter
	none.Add(RoomStats, errors.New("x")) // must not panic
	if none.Count(RoomStats) != 0 {
		t.Fatal("a nil Counter counted")
	}
}

func TestCounterUnknownOpPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("an op outside Ops was accepted")
		}
	}()
	New(nil, 0).Add(Op("made_up"), errors.New("x"))
}

// Many goroutines failing at once log one line between them and count every error.
func TestCounterConcurrent(t *testing.T) {
	var buf testsync.Buffer
	c := New(slog.New(slog.NewJSONHandler(&buf, nil)), time.Hour)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Add(RelayNotice, errors.New("down"))
			}
		}()
	}
	wg.Wait()
	if n := c.Count(RelayNotice); n != 800 {
		t.Fatalf("counted %d, want 800", n)
	}
	if lines := logLines(t, buf.String()); len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1", len(lines))
	}
}
