//go:build race

package whatsapp_test

const raceEnabled = true
