//go:build !js

package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
)

// Run takes part in the call, 1:1 then group or group from the start, until the duration
// is over, ctx ends or the call fails. It fails (ErrNoConnection, ErrNoMedia) when no
// connection came up or no audio and video arrived.
func (gb *GroupBot) Run(ctx context.Context) (Summary, error) {
	s := session{run: gb.call.Run, hangup: gb.call.Hangup, handle: gb.handle,
		group: gb.groupEv, handleGroup: gb.handleGroup, emit: gb.emit,
		pumps: []pump{{"media", gb.b.tracks.pump}},
		media: func(sum Summary) error {
			if sum.Video.PacketsReceived == 0 || sum.Audio.PacketsReceived == 0 {
				return fmt.Errorf("%w: video %d, audio %d packets", ErrNoMedia, sum.Video.PacketsReceived, sum.Audio.PacketsReceived)
			}
			return nil
		}}
	if gb.sim != nil {
		s.pumps = append(s.pumps, pump{"simulcast", gb.sim.pump})
	}
	return gb.b.runSession(ctx, s)
}

// handle turns a 1:1 call event into records; it reports a connection.
func (gb *GroupBot) handle(ev client.Event, sum *Summary) bool {
	switch ev.Kind {
	case client.EventJoined:
		init := ev.Initiator
		sum.JoinedAt = time.Now()
		gb.emit(Record{Event: "joined", Room: gb.b.opts.Room, ClientID: ev.Params.ClientID, IsInitiator: &init})
	case client.EventGroup:
		gb.emit(Record{Event: "group"})
	case client.EventState:
		if ev.State != client.PeerStateConnected {
			gb.emit(Record{Event: "state", State: ev.State.String()})
			return false
		}
		rec := Record{Event: "connected"}
		if p := gb.b.peer.Load(); p != nil {
			rec.LocalCandidate, rec.RemoteCandidate, _ = p.SelectedPair()
		}
		gb.connected(sum)
		gb.emit(rec)
		return !gb.gopts.OnSFU
	case client.EventBye:
		gb.emit(Record{Event: "bye"})
	}
	return false
}

// handleGroup turns a group event into records; it reports the down connection's.
func (gb *GroupBot) handleGroup(ev client.GroupEvent, sum *Summary) bool {
	switch ev.Kind {
	case client.GroupEventState:
		rec := Record{Event: "group_state", State: ev.PC + ":" + ev.State.String()}
		if p, ok := ev.Peer.(*client.PionPeer); ok {
			rec.LocalCandidate, rec.RemoteCandidate, _ = p.SelectedPair()
		}
		gb.emit(rec)
		if ev.PC == protocol.PCDown && ev.State == client.PeerStateConnected {
			gb.connected(sum)
			return true
		}
	case client.GroupEventWelcome:
		gb.emit(Record{Event: "group_welcome", ClientID: ev.Self})
	case client.GroupEventSocketLost, client.GroupEventError:
		gb.emit(Record{Event: "group_" + string(ev.Kind), Error: ev.Err.Error()})
	}
	return false
}

func (gb *GroupBot) connected(sum *Summary) {
	if !sum.Connected {
		sum.Connected = true
		sum.ConnectedAt = time.Now()
	}
}
