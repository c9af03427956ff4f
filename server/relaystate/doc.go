// Package relaystate is the relay's state that outlives a socket, behind one interface
// (State) with two implementations: Memory, for one instance, in this process and on its own
// room table; and Redis, shared by several instances so that they serve one room and a call
// outlives the instance that held a socket. Either holds who owns each client's socket, each
// client's queue (a message leaves it only when the socket that wrote it confirmed it), grace
// deadlines that any live instance reaps, the instances' heartbeats and TURN directory, and
// how a draining instance lets its clients go. Membership is the room table's (room.Redis,
// or Memory's own): the relay adds to each room, in Redis under the same {room} hash tag, and
// never keeps a second list of clients.
//
// The relay (package relay) above it has one code path: how long an operation may take, what
// is retried and for how long, and what runs in the background are the implementation's.
//
// A room's relay keys in Redis, next to the room table's (see room.RedisRoomKey):
//
//	PREFIX{room}:q:CLIENT  list: messages for CLIENT not yet confirmed, oldest first
//	PREFIX{room}:c:CLIENT  hash: owner (INSTANCE/SOCKET, "" offline), deadline (unix ms,
//	                       while offline), base (messages confirmed so far, the absolute
//	                       index of the queue's head), written (absolute index up to
//	                       which some socket has written), qbytes, lost (the socket an
//	                       instance judged dead had, which may take the client back)
//
// and, outside any room: PREFIX grace (sorted set "room client" by deadline), PREFIX
// instances (sorted set of instance ids by last heartbeat), PREFIX owned:INSTANCE (set of
// "room client" whose socket the instance holds), PREFIX turn (hash: instance id → its TURN
// URIs, one per line), and the pub/sub channel PREFIX wake:INSTANCE, which only wakes an
// instance up: every message is in a queue first.
package relaystate
