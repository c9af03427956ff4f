//go:build js && wasm

package client

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/onertc/onertc/protocol"
)

// The js build's parseSignal must take exactly what protocol.ParseSignal takes.
func TestParseSignalMatchesProtocol(t *testing.T) {
	inputs := []string{
		`{"type":"offer","sdp":"v=0\r\n"}`, `{"type":"answer","sdp":"v=0\r\n"}`, `{"type":"offer"}`,
		`{"type":"answer","sdp":""}`, `{"type":"candidate","label":1,"id":"0","candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host"}`,
		`{"type":"candidate","label":0}`, `{"type":"candidate","candidate":"candidate:x"}`, `{"type":"bye"}`,
		`{"type":"` + strings.Repeat("x", 40) + `"}`, `{"type":"renegotiate"}`, `{}`, `null`, `[]`, `"bye"`, `{`,
		`{"type":"candidate","label":"0","candidate":"candidate:x"}`, `{"type":"offer","sdp":5}`,
		`{"type":"bye","sdp":"` + strings.Repeat("a", protocol.MaxMessageBytes) + `"}`,
		`{"type":"group","url":"wss://call.example.org/group/r/c"}`, `{"type":"group"}`, `{"type":"group","url":""}`,
		`{"type":"group","url":5}`, `{"type":"group-ready"}`, `{"type":"group-ready","url":"x"}`,
	}
	for _, in := range inputs {
		got, err := parseSignal(in)
		want, wantErr := protocol.DecodeSignal(in, json.Unmarshal)
		var se, wantSE *protocol.SignalError
		switch {
		case (err != nil) != (wantErr != nil):
			t.Errorf("%.80s: err = %v, protocol says %v", in, err, wantErr)
		case err != nil && (!errors.As(err, &se) || !errors.As(wantErr, &wantSE) || se.Reason != wantSE.Reason):
			t.Errorf("%.80s: err = %v, protocol says %v", in, err, wantErr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Errorf("%.80s: %+v, protocol says %+v", in, got, want)
		}
	}
}

func TestParsePCConfigMatchesJSON(t *testing.T) {
	inputs := []string{
		`{"iceServers":[],"bundlePolicy":"max-bundle","rtcpMuxPolicy":"require","iceTransports":"relay"}`,
		`{"iceServers":[{"urls":["stun:192.0.2.1:3478"]},{"urls":[],"username":"u"}],"iceTransportPolicy":"relay"}`,
		`{"iceServers":null}`, `{}`, ``, `null`, `{"iceTransports":1}`, `{"iceServers":[{"urls":"stun:x"}]}`,
	}
	for _, in := range inputs {
		got, err := parsePCConfig(in)
		var want pcConfig
		wantErr := json.Unmarshal([]byte(in), &want)
		if (err != nil) != (wantErr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: %+v, %v; encoding/json %+v, %v", in, got, err, want, wantErr)
		}
	}
	if !pcConfigRelayOnly(inputs[0]) || !pcConfigRelayOnly(inputs[1]) || pcConfigRelayOnly(`{}`) {
		t.Error("pcConfigRelayOnly")
	}
}
