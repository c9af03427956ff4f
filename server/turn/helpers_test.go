package turn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

const (
	testRealm  = "onertc.test"
	testSecret = "s3cret-current"
	testOld    = "s3cret-previous"
	// Outside net.ipv4.ip_local_port_range (32768-60999) so client sockets never take them.
	testRelayMin = 61000
	testRelayMax = 65535
)

type testServer struct {
	*Server
	udp, tcp, tls string // host:port of each listener
	logs          *testsync.Buffer
	tlsConfig     *tls.Config // for clients: trusts the server's certificate
}

// startServer runs a Server on loopback UDP, TCP and TLS sockets. edit adjusts the config.
func startServer(t testing.TB, edit func(*Config)) *testServer {
	t.Helper()
	pcs, err := ListenUDP("udp4", "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, clientTLS := selfSigned(t)
	rawTLS, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsync.Buffer{}
	cfg := Config{
		Realm:         testRealm,
		Secret:        testSecret,
		PublicIP:      net.IPv4(127, 0, 0, 1),
		RelayAddress:  "127.0.0.1",
		RelayPortMin:  testRelayMin,
		RelayPortMax:  testRelayMax,
		AllowLoopback: true,
		PacketConns:   pcs,
		Listeners:     []net.Listener{tl},
		TLSListeners:  []net.Listener{tls.NewListener(rawTLS, serverTLS)},
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{Server: s, udp: pcs[0].LocalAddr().String(), tcp: tl.Addr().String(),
		tls: rawTLS.Addr().String(), logs: logs, tlsConfig: clientTLS}
}

// selfSigned makes a certificate for 127.0.0.1 and the matching client config.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "onertc test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

// pionClient connects pion/turn's client over transport ("udp", "tcp" or "tls") and allocates.
// It returns the client, its relayed conn and its socket to the server.
func (ts *testServer) pionClient(t *testing.T, transport, user, pass string) (*pionturn.Client, net.PacketConn, net.PacketConn) {
	t.Helper()
	var conn net.PacketConn
	var addr string
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = c, ts.udp
	case "tcp":
		c, err := net.Dial("tcp4", ts.tcp)
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = pionturn.NewSTUNConn(c), ts.tcp
	case "tls":
		c, err := tls.Dial("tcp4", ts.tls, ts.tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = pionturn.NewSTUNConn(c), ts.tls
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	cl, err := pionturn.NewClient(&pionturn.ClientConfig{
		TURNServerAddr: addr,
		Conn:           conn,
		Username:       user,
		Password:       pass,
		Realm:          testRealm,
		LoggerFactory:  quietLoggers{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); _ = conn.Close() })
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatalf("Allocate over %s: %v", transport, err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return cl, relay, conn
}

type quietLoggers struct{}

func (quietLoggers) NewLogger(string) logging.LeveledLogger {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f.NewLogger("test")
}

func mint(ttl time.Duration) (string, string) { return Mint(testSecret, "alice", ttl, time.Now()) }
