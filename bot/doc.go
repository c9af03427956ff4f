// Package bot is a headless onertc call participant on pion/webrtc: it joins a room through
// the client package, sends VP8 video and Opus audio from small embedded clips (looping) and
// data-channel messages, and reports what happened as one JSON object per line. It backs the
// `onertc bot` command and the end-to-end tests.
//
// The bot is native only (it needs pion's media API); under GOOS=js the package is empty.
package bot
