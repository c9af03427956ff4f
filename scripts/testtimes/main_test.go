package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	tests := []struct {
		name     string
		in       string
		n        int
		wantOK   bool
		wantErr  bool
		want     []string // in this order
		dontWant []string
	}{
		{
			name: "passing run lists the slowest first",
			in: lines(
				`{"Action":"run","Package":"p","Test":"TestFast"}`,
				`{"Action":"output","Package":"p","Test":"TestFast","Output":"=== RUN   TestFast\n"}`,
				`{"Action":"pass","Package":"p","Test":"TestFast","Elapsed":0.1}`,
				`{"Action":"pass","Package":"p","Test":"TestSlow","Elapsed":7.5}`,
				`{"Action":"pass","Package":"p","Test":"TestMid","Elapsed":2}`,
				`{"Action":"output","Package":"p","Output":"PASS\n"}`,
				`{"Action":"output","Package":"p","Output":"ok  \tp\t9.6s\n"}`,
				`{"Action":"pass","Package":"p","Elapsed":9.6}`),
			n: 2, wantOK: true,
			want:     []string{"ok  \tp\t9.6s", "the 2 slowest tests", "7.50s  p.TestSlow", "2.00s  p.TestMid"},
			dontWant: []string{"TestFast", "=== RUN", "PASS\n"},
		},
		{
			name: "a failing test shows its output and fails the run",
			in: lines(
				`{"Action":"output","Package":"p","Test":"TestBad","Output":"    bad_test.go:9: boom\n"}`,
				`{"Action":"fail","Package":"p","Test":"TestBad","Elapsed":1}`,
				`{"Action":"output","Package":"p","Output":"FAIL\tp\t1.0s\n"}`,
				`{"Action":"fail","Package":"p","Elapsed":1}`),
			n: 10, wantOK: false,
			want: []string{"bad_test.go:9: boom", "FAIL\tp", "1.00s  p.TestBad"},
		},
		{
			name: "a package killed by its timeout shows the hung test's dump",
			in: lines(
				`{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
				`{"Action":"pass","Package":"p","Test":"TestOK","Elapsed":0}`,
				`{"Action":"output","Package":"p","Test":"TestHang","Output":"=== RUN   TestHang\n"}`,
				`{"Action":"output","Package":"p","Test":"TestHang","Output":"panic: test timed out after 2s\n"}`,
				`{"Action":"output","Package":"p","Test":"TestHang","Output":"goroutine 7 [sleep]:\n"}`,
				`{"Action":"output","Package":"q","Test":"TestElsewhere","Output":"still running in q\n"}`,
				`{"Action":"output","Package":"p","Output":"FAIL\tp\t2.0s\n"}`,
				`{"Action":"fail","Package":"p","Elapsed":2}`),
			n: 10, wantOK: false,
			want:     []string{"FAIL\tp", "TestHang, which never finished", "panic: test timed out", "goroutine 7 [sleep]"},
			dontWant: []string{"still running in q", "=== RUN   TestOK"},
		},
		{
			name: "a build failure fails the run",
			in: lines(
				`{"ImportPath":"p","Action":"build-output","Output":"p/x.go:1: syntax error\n"}`,
				`{"ImportPath":"p","Action":"build-fail"}`),
			n: 10, wantOK: false,
			want: []string{"syntax error"},
		},
		{name: "no events is an error", in: "", n: 10, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			ok, err := summarize(strings.NewReader(tt.in), &out, tt.n)
			if (err != nil) != tt.wantErr || ok != tt.wantOK {
				t.Fatalf("ok %v, err %v; want ok %v, error %v", ok, err, tt.wantOK, tt.wantErr)
			}
			got, at := out.String(), 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order) in:\n%s", w, got)
				}
				at += i + len(w)
			}
			for _, w := range tt.dontWant {
				if strings.Contains(got, w) {
					t.Errorf("output shows %q:\n%s", w, got)
				}
			}
		})
	}
}
