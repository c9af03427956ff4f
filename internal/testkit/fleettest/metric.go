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
	value := 0.0
	in.scanMetrics(t, func(line string) bool {
		v, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("metrics of %s: %s: %v", in.Addr, name, err)
		}
		value = f
		return true
	})
	return value
}

// scanMetrics passes each line of the instance's /metrics to found until it reports true;
// it reports whether one did.
func (in *Instance) scanMetrics(t testing.TB, found func(line string) bool) bool {
	t.Helper()
	resp, err := http.Get("http://" + in.Addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", in.Addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if found(sc.Text()) {
			return true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("metrics of %s: %v", in.Addr, err)
	}
	return false
}
