package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// histogram is a Prometheus histogram read from /metrics: cumulative counts by upper bound.
type histogram map[float64]uint64

// errNoSamples is returned for a series that recorded nothing between two readings: a
// histogram without samples has no quantile, and printing its smallest bucket would be a
// number the relay never produced.
var errNoSamples = errors.New("the series recorded no samples")

// deliveryHistogram reads onertc's onertc_relay_delivery_seconds.
func deliveryHistogram(addr string) (histogram, error) {
	const name = "onertc_relay_delivery_seconds"
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	f := families[name]
	if f == nil || len(f.Metric) != 1 || f.Metric[0].Histogram == nil {
		return nil, fmt.Errorf("no single histogram %s in /metrics", name)
	}
	h := histogram{}
	for _, b := range f.Metric[0].Histogram.Bucket {
		h[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return h, nil
}

// quantile is the smallest bucket bound under which fraction q of the samples recorded
// since before fell: an upper bound on the relay's own part of the latency.
func (after histogram) quantile(before histogram, q float64) (string, error) {
	var bounds []float64
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return "", errNoSamples
	}
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total == 0 {
		return "", fmt.Errorf("onertc_relay_delivery_seconds: %w", errNoSamples)
	}
	for _, b := range bounds {
		if float64(after[b]-before[b]) >= q*float64(total) {
			return "≤ " + time.Duration(b*float64(time.Second)).String(), nil
		}
	}
	return "> " + time.Duration(bounds[len(bounds)-1]*float64(time.Second)).String(), nil
}

// profiler fetches onertc's CPU profile (its --pprof listener) over a measured window.
type profiler struct {
	dir   string // "" profiles nothing
	addr  string // onertc's pprof address for the current process
	label string
}

func (pr *profiler) start(_ *process, d time.Duration) (stop func()) {
	if pr == nil || pr.dir == "" || pr.addr == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pr.addr, max(1, int(d.Seconds())))
		resp, err := http.Get(url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "profile %s: %v\n", pr.label, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(pr.dir + "/" + pr.label + ".pprof")
		if err != nil {
			fmt.Fprintf(os.Stderr, "profile %s: %v\n", pr.label, err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}
