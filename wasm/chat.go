//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
)

// channelMsg is one message on the "chat" data channel: a chat line, or the sender's
// microphone and camera state (so the other side can say "muted" instead of guessing from
// silence). On the wire: {"type":"chat","text":…} or {"type":"media","audio":…,"video":…}.
type channelMsg struct {
	Type  string // "chat" or "media"
	Text  string
	Audio *bool
	Video *bool
}

func (m channelMsg) encode() string {
	o := jsjson.NewObject()
	o.Set("type", m.Type)
	if m.Text != "" {
		o.Set("text", m.Text)
	}
	if m.Audio != nil {
		o.Set("audio", *m.Audio)
	}
	if m.Video != nil {
		o.Set("video", *m.Video)
	}
	return jsjson.Stringify(o)
}

func readChannelMsg(d *jsjson.Decoder, v js.Value) channelMsg {
	var m channelMsg
	if d.Object(v) {
		m.Type, m.Text = d.String(v, "type"), d.String(v, "text")
		if a := v.Get("audio"); !a.IsUndefined() && !a.IsNull() {
			b := d.Bool(v, "audio")
			m.Audio = &b
		}
		if a := v.Get("video"); !a.IsUndefined() && !a.IsNull() {
			b := d.Bool(v, "video")
			m.Video = &b
		}
	}
	return m
}

func (r *room) send(m channelMsg) bool {
	if r.peer == nil || r.peer.dc.Get("readyState").String() != "open" {
		return false
	}
	_, err := try(r.peer.dc, "send", m.encode())
	return err == nil
}

func (r *room) sendMediaState() {
	audio, video := r.media.audio.Truthy() && !r.audioOff, r.media.video.Truthy() && !r.videoOff
	if r.group != nil && r.group.session != nil {
		r.group.session.SetState(!audio, !video)
	}
	r.send(channelMsg{Type: "media", Audio: &audio, Video: &video})
}

func (r *room) onChannelOpen(p *peerConn) {
	if p != r.peer {
		return
	}
	enableChat(true)
	r.sendMediaState()
}

func (r *room) onChannelClose(p *peerConn) {
	if p != nil && p != r.peer {
		return
	}
	enableChat(false)
}

func (r *room) onChannelMessage(p *peerConn, ev js.Value) {
	if p != r.peer {
		return
	}
	data := ev.Get("data")
	if data.Type() != js.TypeString {
		return
	}
	m, err := jsjson.Decode(data, readChannelMsg)
	if err != nil {
		return
	}
	switch m.Type {
	case "chat":
		r.chatReceived("", m.Text)
	case "media":
		badge, text := byID("remote-muted"), mutedText(m.Audio, m.Video)
		setText(badge, text)
		setHidden(badge, text == "")
	}
}

// sendChat sends what is typed in #chat-input.
func (r *room) sendChat() {
	input := byID("chat-input")
	text := chatText(input.Get("value").String())
	if text == "" {
		return
	}
	// In a group call the line goes over the group socket (the SFU takes no data channel);
	// the server passes it to everyone else with this side's name.
	if g := r.group; g != nil && g.shown && g.session != nil {
		g.session.SendChat(text)
	} else if !r.send(channelMsg{Type: "chat", Text: text}) {
		r.chatNote("Not sent: nobody is connected.")
		return
	}
	input.Set("value", "")
	r.chatLine("", text, "mine")
}

// chatReceived shows someone else's message; from is the sender's name in a group call
// ("" in a 1:1 call, where there is only one other side).
func (r *room) chatReceived(from, text string) {
	text = chatText(text)
	if text == "" {
		return
	}
	r.chatLine(from, text, "theirs")
	if !r.chatOn {
		r.unread = true
		setHidden(byID("chat-unread"), false)
	}
}

// chatLine appends a message, under its sender's name when from is set; textContent, never
// HTML, so neither can inject markup.
func (r *room) chatLine(from, text, class string) {
	d := doc()
	li := d.Call("createElement", "li")
	li.Set("className", class)
	if from != "" {
		name := d.Call("createElement", "span")
		name.Set("className", "chat-from")
		name.Set("textContent", from)
		li.Call("append", name, d.Call("createElement", "br"))
	}
	li.Call("append", text)
	r.chatLog.Call("appendChild", li)
	li.Call("scrollIntoView", map[string]any{"block": "end"})
}

func (r *room) chatNote(text string) {
	if r.chatLog.Get("childElementCount").Int() > 0 {
		r.chatLine("", text, "note")
	}
}

// enableChat turns the chat input on or off: on while a data channel is open in a 1:1
// call, or while in a group call.
func enableChat(on bool) {
	byID("chat-input").Set("disabled", !on)
	byID("chat-send").Set("disabled", !on)
}

func (r *room) toggleChat() {
	r.chatOn = !r.chatOn
	setHidden(byID("chat"), !r.chatOn)
	setPressed(byID("chat-button"), r.chatOn)
	if r.chatOn {
		r.infoOn = false
		setHidden(byID("info-div"), true)
		setPressed(byID("info-button"), false)
		r.unread = false
		setHidden(byID("chat-unread"), true)
		byID("chat-input").Call("focus")
	}
}
