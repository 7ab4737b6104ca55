// Command warden runs Warden, the desktop app that keeps many WhatsApp accounts
// connected, one client per account.
package main

import (
	"os"

	"warden/app"
)

func main() {
	os.Exit(app.Run(os.Args[1:]))
}
