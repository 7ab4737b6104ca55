package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"warden/core"
)

var decodeSeeds = []string{
	`{}`,
	`{"at":"2026-05-01T10:00:00Z","from":"Connected","to":"Connected","cause":"message sent","reason":"test message to …0200 acknowledged","epoch":3,"message_id":"3EB0F0F640770BB2FE429E","latency":12000000}`,
	`{"message_id":"x","latency":-5}`,
	`{"at":"2026-05-01T10:00:00Z","from":"Waiting","to":"Connecting","cause":"timer","attempt":1,"epoch":4,"token":8812}`,
	`{"at":"2026-05-01T10:00:00.123456789Z","from":"Waiting","to":"Connecting","cause":"timer","attempt":4,"delay":5250000000,"epoch":12}`,
	`{"at":"2026-05-01T10:00:00Z","from":"Connected","to":"Replaced","cause":"replaced","reason":"another client is using this account"}`,
	`{"at":"2026-05-01T10:00:00+02:00","from":"Idle","to":"Idle","cause":"something new","attempt":-3,"delay":-1}`,
	`{"reason":"quote \" and \\ and \u00e9","cause":"caf\u00e9"}`,
	`{"reason":"héllo wörld"}`,
	`{"reason":"<html> & stuff"}`,
	`{ "at" : "2026-05-01T10:00:00Z" }`,
	`{"from":"Nope"}`,
	`{"epoch":-1}`,
	`{"epoch":18446744073709551615}`,
	`{"epoch":18446744073709551616}`,
	`{"attempt":01}`,
	`{"attempt":1.5}`,
	`{"attempt":1e3}`,
	`{"delay":9223372036854775807}`,
	`{"delay":-9223372036854775808}`,
	`{"delay":9223372036854775808}`,
	`{"at":null}`,
	`{"unknown":1}`,
	`{"at":"2026-05-01T10:00:00Z",}`,
	`{"at":"2026-05-01T10:00:00Z"}x`,
	`{"attempt":1,"attempt":2}`,
	`not json`,
	``,
}

// decodeEvent must agree with encoding/json on every input: same record when
// json accepts it, an error when json refuses it.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) { checkDecode(t, v) })
}

func TestDecodeEventMatchesJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
	// And on what encodeEvents writes.
	for i := range 50 {
		ev := largeEvent("a", i, time.Now())
		ev.Cause = []string{"timer", "disconnected", "a \"quoted\" cause", "ünïcode", ""}[i%5]
		vs, err := encodeEvents([]core.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, vs[0])
		var r eventRecord
		if !scanEvent(vs[0], &r) && i%5 < 2 {
			t.Errorf("the fast path refused what encodeEvents wrote: %s", vs[0])
		}
	}
}

func checkDecode(t *testing.T, v []byte) {
	t.Helper()
	var want eventRecord
	wantErr := json.Unmarshal(v, &want)
	var got eventRecord
	err := decodeEvent(v, &got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("decodeEvent(%s) error = %v, encoding/json says %v", v, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeEvent(%s) = %+v, encoding/json says %+v", v, got, want)
	}
}
