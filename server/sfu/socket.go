package sfu

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// sock is one group WebSocket. It has one writer goroutine (gorilla/websocket allows one
// concurrent writer) fed by a bounded queue; the reader is the goroutine of
// ServeParticipant.
type sock struct {
	ws       *websocket.Conn
	log      *slog.Logger
	queue    chan outFrame
	quit     chan struct{} // closed to stop the writer
	quitOnce sync.Once
	done     chan struct{} // closed when the writer ended (and closed the connection)
	// byServer is set when the server ends the socket on purpose (an error that closes,
	// a bye, a slow reader): its participant leaves at once instead of waiting for a
	// resume. bye is set when the client said bye.
	byServer atomic.Bool
	bye      atomic.Bool
}

type outFrame struct {
	data       []byte
	closeAfter bool
}

func newSock(ws *websocket.Conn, queue int, log *slog.Logger) *sock {
	return &sock{ws: ws, log: log, queue: make(chan outFrame, queue), quit: make(chan struct{}), done: make(chan struct{})}
}

func (so *sock) kill() { so.quitOnce.Do(func() { close(so.quit) }) }

// enqueue reports false when the queue is full.
func (so *sock) enqueue(f outFrame) bool {
	select {
	case so.queue <- f:
		return true
	default:
		return false
	}
}

func (so *sock) writeLoop(cfg Config) {
	defer close(so.done)
	defer so.ws.Close()
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	write := func(kind int, data []byte) error {
		if err := so.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout)); err != nil {
			return err
		}
		return so.ws.WriteMessage(kind, data)
	}
	bye := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for {
		select {
		case f := <-so.queue:
			if f.data != nil {
				if err := write(websocket.TextMessage, f.data); err != nil {
					so.log.Debug("group socket write failed", "err", err)
					return
				}
			}
			if f.closeAfter {
				_ = write(websocket.CloseMessage, bye)
				return
			}
		case <-ping.C:
			if err := write(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-so.quit:
			// What was queued before the end (an error frame that says why) goes first.
			for {
				select {
				case f := <-so.queue:
					if f.data != nil && write(websocket.TextMessage, f.data) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			_ = write(websocket.CloseMessage, bye)
			return
		}
	}
}
