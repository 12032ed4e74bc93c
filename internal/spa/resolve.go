package spa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DefaultResolveURL is where fwknop's client asks for its external address
// (ALLOW_IP resolve, -R) unless RESOLVE_URL says otherwise.
const DefaultResolveURL = "https://www.cipherdyne.org/cgi-bin/myip"

// DefaultResolveHTTPURL is the URL of RESOLVE_HTTP_ONLY (--resolve-http-only)
// without RESOLVE_URL: fwknop's default over plain HTTP.
const DefaultResolveHTTPURL = "http://www.cipherdyne.org/cgi-bin/myip"

// ErrResolve is wrapped by errors of [ResolveExternalIP].
var ErrResolve = errors.New("resolve external address")

// Limits of ResolveExternalIP: fwknop reads at most 2000 bytes.
const (
	resolveTimeout = 10 * time.Second
	maxResolveBody = 2000
)

// ResolveExternalIP asks rawURL (empty means [DefaultResolveURL]) for the
// client's external IPv4 address with one HTTP GET, as fwknop's client
// does for ALLOW_IP resolve: the body must start with the address,
// optionally followed by anything that is not a digit or a dot. HTTP and
// HTTPS URLs work; client nil means a client with a 10-second timeout.
// The request's User-Agent is userAgent, or [DefaultUserAgent] when empty.
// The response is read up to 2000 bytes, and no redirect is followed to
// another scheme than http or https.
func ResolveExternalIP(ctx context.Context, client *http.Client, rawURL, userAgent string) (netip.Addr, error) {
	if rawURL == "" {
		rawURL = DefaultResolveURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return netip.Addr{}, fmt.Errorf("%w: URL %q: want http://host/path or https://host/path", ErrResolve, rawURL)
	}
	if client == nil {
		client = &http.Client{Timeout: resolveTimeout}
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %v", ErrResolve, err)
	}
	if userAgent == "" {
		userAgent = DefaultUserAgent
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := client.Do(req)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %v", ErrResolve, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return netip.Addr{}, fmt.Errorf("%w: %s answered %s", ErrResolve, u.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResolveBody))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %s: %v", ErrResolve, u.Redacted(), err)
	}
	a, err := parseResolved(string(body))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %s: %v", ErrResolve, u.Redacted(), err)
	}
	return a, nil
}

// parseResolved takes the address at the start of body as fwknop does:
// digits and dots up to the first other character, four octets 0..255.
func parseResolved(body string) (netip.Addr, error) {
	end := 0
	for end < len(body) && end < 16 && (body[end] == '.' || body[end] >= '0' && body[end] <= '9') {
		end++
	}
	s := body[:end]
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		// netip refuses leading zeros, which fwknop's sscanf takes:
		// read the octets by hand.
		if a, ok := parseOctets(s); ok {
			return a, nil
		}
		return netip.Addr{}, fmt.Errorf("the answer does not start with an IPv4 address: %q", truncate(body, 40))
	}
	return a, nil
}

func parseOctets(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return netip.Addr{}, false
		}
		n := 0
		for _, c := range p {
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
