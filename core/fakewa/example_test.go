package fakewa_test

import (
	"context"
	"log"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"warden/core/fakewa"
)

// Point an unmodified whatsmeow client at the fake server, let a simulated
// phone scan its QR code, then make the server replace the session.
func Example() {
	srv, err := fakewa.New(fakewa.Config{Seed: 1}) // also installs the test root key
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	container, err := sqlstore.New(context.Background(), "sqlite", "file:example?mode=memory&cache=shared&_pragma=foreign_keys(1)", nil)
	if err != nil {
		log.Fatal(err)
	}
	cli := whatsmeow.NewClient(container.NewDevice(), nil)
	cli.EnableAutoReconnect = false
	cli.SetPreLoginHTTPClient(srv.HTTPClient())
	cli.SetWebsocketHTTPClient(srv.HTTPClient())

	qr, _ := cli.GetQRChannel(context.Background())
	if err := cli.Connect(); err != nil {
		log.Fatal(err)
	}
	first := <-qr
	jid, err := srv.ScanQR(first.Code) // the phone scans; the client gets PairSuccess, then Connected
	if err != nil {
		log.Fatal(err)
	}
	<-qr // "success"

	// The client sees events.StreamReplaced, as from a second client elsewhere.
	_ = srv.Inject(jid, fakewa.Fault{Kind: fakewa.FaultReplaced})
	log.Printf("%s: at most %d logged-in sockets at once", jid, srv.MaxConcurrentLogins(jid))
}
