//go:build js && wasm

package main

import (
	"reflect"
	"syscall/js"
	"testing"

	"github.com/onertc/onertc/client/jsjson"
)

// statsReport is an RTCStatsReport (a Map from id to stats object) made of the JSON array
// stats, the shape getStats resolves to.
func statsReport(t *testing.T, stats string) js.Value {
	t.Helper()
	list, err := jsjson.Parse(stats)
	if err != nil {
		t.Fatalf("test report: %v", err)
	}
	report := js.Global().Get("Map").New()
	for i := 0; i < list.Length(); i++ {
		report.Call("set", list.Index(i).Get("id"), list.Index(i))
	}
	return report
}

func TestReadStats(t *testing.T) {
	for _, tc := range []struct {
		name, stats string
		want        snapshot
	}{
		{"chromium: the transport names the pair", `[
			{"id":"T01","type":"transport","timestamp":1000,"selectedCandidatePairId":"CP2"},
			{"id":"CP1","type":"candidate-pair","timestamp":1000,"nominated":true,"state":"succeeded","currentRoundTripTime":0.5,
			 "localCandidateId":"L2","remoteCandidateId":"R1"},
			{"id":"CP2","type":"candidate-pair","timestamp":1000,"nominated":false,"state":"succeeded","currentRoundTripTime":0.125,
			 "localCandidateId":"L1","remoteCandidateId":"R1"},
			{"id":"L1","type":"local-candidate","timestamp":1000,"candidateType":"relay","protocol":"udp","relayProtocol":"tcp",
			 "address":"203.0.113.7","port":50000},
			{"id":"L2","type":"local-candidate","timestamp":1000,"candidateType":"host","protocol":"udp","address":"192.0.2.9","port":1},
			{"id":"R1","type":"remote-candidate","timestamp":1000,"candidateType":"host","protocol":"udp","address":"192.0.2.1","port":6000},
			{"id":"IV","type":"inbound-rtp","kind":"video","timestamp":1002,"bytesReceived":1000,"packetsLost":2,"packetsReceived":98,
			 "frameWidth":640,"frameHeight":480,"framesPerSecond":30,"framesDecoded":300,"codecId":"CV"},
			{"id":"IA","type":"inbound-rtp","kind":"audio","timestamp":1001,"bytesReceived":500,"packetsLost":1,"packetsReceived":49,"codecId":"CA"},
			{"id":"OV","type":"outbound-rtp","kind":"video","timestamp":1000,"bytesSent":700,"frameWidth":320,"frameHeight":240,"framesPerSecond":15},
			{"id":"OA","type":"outbound-rtp","kind":"audio","timestamp":1000,"bytesSent":300},
			{"id":"CV","type":"codec","timestamp":1000,"mimeType":"video/VP8"},
			{"id":"CA","type":"codec","timestamp":1000,"mimeType":"audio/opus"}
		]`, snapshot{at: 1002, local: "relay udp, TURN over tcp · 203.0.113.7:50000", remote: "host udp · 192.0.2.1:6000",
			rttMS: 125, bytesIn: 1500, bytesOut: 1000, width: 640, height: 480, fps: 30, framesDecoded: 300,
			videoCodec: "video/VP8", audioCodec: "audio/opus", sendWidth: 320, sendHgt: 240, sendFPS: 15, lost: 3, received: 147}},
		{"no transport stats: the nominated pair that succeeded; ip for address", `[
			{"id":"P1","type":"candidate-pair","timestamp":5,"nominated":true,"state":"failed","localCandidateId":"L2","remoteCandidateId":"R1"},
			{"id":"P2","type":"candidate-pair","timestamp":5,"nominated":true,"state":"succeeded","currentRoundTripTime":0.25,
			 "localCandidateId":"L1","remoteCandidateId":"R1"},
			{"id":"P3","type":"candidate-pair","timestamp":5,"nominated":false,"state":"succeeded","localCandidateId":"L2","remoteCandidateId":"R1"},
			{"id":"L1","type":"local-candidate","timestamp":5,"candidateType":"srflx","protocol":"udp","ip":"198.51.100.4","port":7},
			{"id":"L2","type":"local-candidate","timestamp":5,"candidateType":"host","protocol":"udp","address":"192.0.2.9","port":1},
			{"id":"R1","type":"remote-candidate","timestamp":5,"candidateType":"relay","protocol":"udp","address":"203.0.113.8","port":3478}
		]`, snapshot{at: 5, local: "srflx udp · 198.51.100.4:7", remote: "relay udp · 203.0.113.8:3478", rttMS: 250}},
		{"pair without a round trip yet, candidate missing from the report", `[
			{"id":"T","type":"transport","timestamp":9,"selectedCandidatePairId":"P"},
			{"id":"P","type":"candidate-pair","timestamp":9,"localCandidateId":"gone","remoteCandidateId":"R"},
			{"id":"R","type":"remote-candidate","timestamp":9,"candidateType":"prflx","protocol":"tcp"}
		]`, snapshot{at: 9, remote: "prflx tcp", rttMS: -1}},
		{"empty report", `[]`, snapshot{rttMS: -1}},
		{"fields of the wrong type read as absent", `[
			{"id":"IV","type":"inbound-rtp","kind":"video","timestamp":"soon","bytesReceived":"many","frameWidth":null,"codecId":7}
		]`, snapshot{rttMS: -1}},
	} {
		got := readStats(statsReport(t, tc.stats))
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, *got, tc.want)
		}
	}
}
