// Package client is the Go client of the onertc protocol (AppRTC room server + Collider
// relay): it joins a room, keeps a registered relay socket, fetches ICE servers and runs the
// call — the initiator offers, the callee answers from its join messages, candidates trickle
// both ways in AppRTC's payload format, a bye makes the one left the initiator, who re-offers.
//
// The call state machine ([Call]) is written once against two seams: a [Transport] (HTTP
// requests and the relay socket) and a [Peer] (the few RTCPeerConnection operations a call
// needs). Native builds get [HTTPTransport] (net/http + gorilla/websocket) and a pion/webrtc
// Peer ([PionPeer]); js/wasm builds get a fetch/WebSocket Transport and a Peer over the
// browser's own RTCPeerConnection, so the browser app does not link pion. The JSON the call
// reads and writes itself goes through encoding/json natively and the browser's JSON in
// js/wasm (wire.go, package jsjson), and logs go to a [Logger] (a *slog.Logger natively), so
// the browser app does not link encoding/json or log/slog either.
package client
