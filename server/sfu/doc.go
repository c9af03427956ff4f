// Package sfu is the selective forwarding unit of group rooms (three people or more): each
// participant publishes its audio and video once, on an "up" PeerConnection it offers, and
// receives everyone else's on a "down" PeerConnection the SFU offers and renegotiates as
// people come and go, so offers never cross. Video arrives in up to three simulcast layers;
// the SFU forwards to each subscriber the layer that fits its bandwidth estimate (REMB) and
// the size at which it shows the tile, switching on key frames and rewriting sequence
// numbers, timestamps and VP8 picture ids so the subscriber's decoder sees one continuous
// stream. Lost packets are resent from a per-layer packet cache; key frames are asked of
// publishers (PLI) at a bounded rate; the active speaker comes from the audio-level header
// extension. All media of every participant rides one UDP port (ICE UDP mux) and,
// optionally, ICE-TCP on a listener the caller passes in.
//
// Signaling is JSON over a WebSocket (protocol.GroupMessage; docs/protocol.md, "Group
// rooms"). The caller admits a participant and hands the request to SFU.ServeParticipant.
package sfu
