package pionlog

import (
	"log/slog"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	tests := []struct {
		name    string
		levels  Levels
		handler slog.Level
		want    []string
		notWant []string
	}{
		{"as is, info handler", AsIs, slog.LevelInfo,
			[]string{`level=WARN msg="pair x failed" pion=ice`, `level=ERROR msg="dtls broke" pion=ice`},
			[]string{"chatter", "trace"}},
		{"lowered, info handler", Levels{Warn: slog.LevelInfo, Error: slog.LevelWarn}, slog.LevelInfo,
			[]string{`level=INFO msg="pair x failed" pion=ice`, `level=WARN msg="dtls broke" pion=ice`},
			[]string{"chatter", "trace"}},
		{"debug handler sees pion's info, not its traces", AsIs, slog.LevelDebug,
			[]string{`level=DEBUG msg="chatter 1" pion=ice`}, []string{"trace"}},
		{"trace handler sees traces", AsIs, slog.LevelDebug - 4,
			[]string{`msg="trace 2" pion=ice`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			l := Factory(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.handler})), tt.levels).NewLogger("ice")
			l.Infof("chatter %d", 1)
			l.Tracef("trace %d", 2)
			l.Warnf("pair %s failed", "x")
			l.Error("dtls broke")
			got := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("log %q lacks %q", got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("log %q has %q", got, w)
				}
			}
		})
	}
	Factory(nil, AsIs).NewLogger("x").Error("discarded, no panic")
}
