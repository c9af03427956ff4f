package fleettest

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Metric is the value of the unlabelled metric name on the instance's /metrics (0 when it
// does not show it).
func (in *Instance) Metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + in.Addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", in.Addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics of %s: %s: %v", in.Addr, name, err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("metrics of %s: %v", in.Addr, err)
	}
	return 0
}
