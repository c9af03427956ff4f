//go:build js && wasm

package client

import "testing"

// TestReportReceivedBytes sums what the transports of a report received (one with
// max-bundle; an old one beside it still counts, its bytes never shrink) and refuses a
// report without transport statistics, which would look like a path gone silent.
func TestReportReceivedBytes(t *testing.T) {
	transport := func(id string, bytes any) map[string]any {
		s := map[string]any{"id": id, "type": "transport"}
		if bytes != nil {
			s["bytesReceived"] = bytes
		}
		return s
	}
	pair := map[string]any{"id": "P1", "type": "candidate-pair", "bytesReceived": 999}
	for _, tc := range []struct {
		name   string
		stats  []map[string]any
		want   uint64
		wantOK bool
	}{
		{"one transport", []map[string]any{transport("T1", 12345), pair}, 12345, true},
		{"two transports", []map[string]any{transport("T1", 100), transport("T2", 23)}, 123, true},
		{"nothing received yet", []map[string]any{transport("T1", nil)}, 0, true},
		{"no transport", []map[string]any{pair}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReportReceivedBytes(statsReport(tc.stats...))
			if (err == nil) != tc.wantOK || got != tc.want {
				t.Fatalf("got %d, err %v; want %d, ok %v", got, err, tc.want, tc.wantOK)
			}
		})
	}
}
