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
// A participant whose socket dies keeps its place and media for Config.Grace; a join with
// resume on a new socket takes them over.
//
// Files: sfu.go (the SFU, its pion APIs, rooms' membership, Stats, Close), config.go,
// socket.go (one WebSocket, its writer), participant.go (frames, join, resume, leave),
// signaling.go (the up and down PeerConnections), publication.go (what a participant
// publishes: layers, their cache and bitrate), downtrack.go (forwarding to one
// subscriber), room.go (the tick: layers, speaker, REMB cap); the pure parts are
// rewrite.go, layer.go, speaker.go, vp8.go and packetcache/.
package sfu
