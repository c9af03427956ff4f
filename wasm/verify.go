//go:build js && wasm

package main

import "github.com/onertc/onertc/client"

// showVerification shows the code of the current peer-to-peer connection in the call view,
// or hides it (v nil) when the connection goes: a code belongs to one connection, and the
// next one has new certificates.
func (r *room) showVerification(v *client.Verification) {
	r.verified = v
	el := byID("verify")
	if v == nil {
		setText(byID("verify-code"), "")
		setHidden(el, true)
		return
	}
	setText(byID("verify-code"), v.Code)
	setHidden(el, false)
	if r.infoOn && r.stats.prev != nil {
		r.showStats(r.stats.prev)
	}
}

// verificationRows are the info box's lines about the code: it and the two certificates of
// the DTLS handshake it comes from, for someone who wants to compare them in full.
func verificationRows(v *client.Verification) [][2]string {
	if v == nil {
		return nil
	}
	return [][2]string{
		{"Verification code", v.Code},
		{"Your certificate", v.Local.String()},
		{"Their certificate", v.Remote.String()},
	}
}
