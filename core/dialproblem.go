package core

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// DialProblem says what kept a dial from reaching WhatsApp, in a kind the
// window can word and count: the raw error chain ("failed to dial whatsapp
// web websocket: … lookup web.whatsapp.com on …: no such host") means
// nothing to an operator, and the same kind on every account says the
// trouble is this computer's network, not the accounts.
type DialProblem int

// The kinds of dial problems.
const (
	ProblemNone      DialProblem = iota // not a network problem (or no problem)
	ProblemNoDNS                        // WhatsApp's name does not resolve: no internet, or no DNS
	ProblemNoRoute                      // the network is unreachable: no internet
	ProblemRefused                      // WhatsApp's address refused the connection
	ProblemTimeout                      // nothing answered in time
	ProblemTLS                          // the secure connection failed (an untrusted certificate)
	ProblemProxyAuth                    // the proxy refused the user name and password, or wants some
	ProblemProxyDown                    // the proxy itself cannot be reached
	ProblemProxy                        // the proxy failed otherwise
)

var dialProblemNames = [...]string{"none", "no DNS", "no route", "refused", "timeout", "TLS", "proxy authentication", "proxy down", "proxy"}

func (p DialProblem) String() string {
	if p >= 0 && int(p) < len(dialProblemNames) {
		return dialProblemNames[p]
	}
	return "DialProblem(?)"
}

// Network reports whether the problem lies between this computer and
// WhatsApp (and not in a proxy the operator set up).
func (p DialProblem) Network() bool {
	switch p {
	case ProblemNoDNS, ProblemNoRoute, ProblemRefused, ProblemTimeout, ProblemTLS:
		return true
	}
	return false
}

// NeedsOperator reports whether the problem, repeated RefusalLimit times in
// a row, is one the operator must fix: a proxy that refuses the password,
// or cannot be reached at all, does not get better by waiting.
// Warden keeps trying (the operator may fix it on the proxy's side), but
// the account counts as needing action (Status.NeedsAction).
func (p DialProblem) NeedsOperator() bool {
	return p == ProblemProxyAuth || p == ProblemProxyDown
}

// RefusalLimit is how many dials in a row must fail with the same problem
// that NeedsOperator before the account needs the operator.
const RefusalLimit = 3

// Summary says the problem in one line, in an operator's words (lowercase
// first, as Status.Reason). The proxy's problems are worded by
// the error itself (see DialProblemer); for them Summary is a fallback.
func (p DialProblem) Summary() string {
	switch p {
	case ProblemNoDNS:
		return "this computer cannot reach WhatsApp: no internet or DNS"
	case ProblemNoRoute:
		return "this computer cannot reach WhatsApp: no internet (the network is unreachable)"
	case ProblemRefused:
		return "WhatsApp's address refused the connection: a firewall may be blocking it"
	case ProblemTimeout:
		return "WhatsApp did not answer in time: the network is slow or blocks it"
	case ProblemTLS:
		return "the secure connection to WhatsApp failed: something on the network intercepts it (untrusted certificate)"
	case ProblemProxyAuth:
		return "the proxy refused the user name or password"
	case ProblemProxyDown:
		return "the proxy cannot be reached"
	case ProblemProxy:
		return "the proxy failed"
	}
	return "could not connect"
}

// DialProblemer is implemented by an error that knows its problem, such as
// core/whatsapp's proxy errors: their text already says it in an
// operator's words, naming the proxy.
type DialProblemer interface {
	error
	DialProblem() DialProblem
}

// ClassifyDialError says what kind of problem err, returned by a dial, is,
// and the one line that says it: the text of a DialProblemer in the chain,
// or the problem's Summary. It returns ProblemNone and "" for an error
// that is not a network problem (a context ended, a device in use).
func ClassifyDialError(err error) (DialProblem, string) {
	if err == nil {
		return ProblemNone, ""
	}
	if pe, ok := errors.AsType[DialProblemer](err); ok {
		p := pe.DialProblem()
		if p != ProblemNone {
			return p, pe.Error()
		}
	}
	p := classify(err)
	if p == ProblemNone {
		return ProblemNone, ""
	}
	return p, p.Summary()
}

func classify(err error) DialProblem {
	var (
		dnsErr    *net.DNSError
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		return ProblemNoDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ProblemRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return ProblemNoRoute
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &hostname),
		errors.As(err, &record), errors.As(err, &alert):
		return ProblemTLS
	case errors.Is(err, syscall.ETIMEDOUT), errors.As(err, &netErr) && netErr.Timeout():
		return ProblemTimeout
	case strings.Contains(err.Error(), "tls: "), strings.Contains(err.Error(), "HTTP response to HTTPS client"):
		// A handshake that failed some other way, such as a server
		// that speaks no TLS.
		return ProblemTLS
	}
	return ProblemNone
}
