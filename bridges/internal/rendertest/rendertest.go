// Package rendertest holds what the bridges' renderer tests and
// benchmarks share: a realistic model reply and the benchmarks of one
// render and of a streamed reply's renders.
package rendertest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// SampleReply is a realistic ~4 KB model reply: headings, lists, code, a
// table, links and a quote. Every renderer's benchmarks and corpus tests
// use it, so their numbers compare.
func SampleReply() string {
	return strings.TrimSpace(`
## Setting up a **reverse proxy** with Caddy

Short answer: yes, you can run both apps behind one domain. Caddy handles
TLS for you, so there is *no need* for certbot, and it renews certificates
on its own about 30 days before they expire. The whole setup takes ten
minutes on a fresh Debian or Ubuntu box. Here's the plan:

1. Install Caddy from the [official repo](https://caddyserver.com/docs/install).
2. Point your DNS ` + "`A`" + ` record at the server.
3. Write a ` + "`Caddyfile`" + ` (below) and reload.
4. Check the logs with ` + "`journalctl -u caddy -f`" + `.

### The Caddyfile

` + "```caddy" + `
example.com {
	encode zstd gzip
	handle_path /api/* {
		reverse_proxy localhost:8080
	}
	handle {
		root * /srv/www
		file_server
	}
	log {
		output file /var/log/caddy/access.log
	}
}
` + "```" + `

A few things worth knowing:

- ` + "`handle_path`" + ` **strips** the prefix, while ` + "`handle`" + ` keeps it.
  If your API expects ` + "`/api/users`" + `, use ` + "`handle`" + ` instead.
- Order matters less than in nginx: Caddy sorts directives by a
  [predefined order](https://caddyserver.com/docs/caddyfile/directives#directive-order).
- For WebSockets you don't need anything special; ` + "`reverse_proxy`" + ` upgrades
  connections automatically.
  - Timeouts can be tuned with ` + "`transport http { read_timeout 5m }`" + `.
  - Health checks: ` + "`health_uri /healthz`" + `.

### Comparison

| Feature | Caddy | nginx | Traefik |
|:--|:-:|:-:|--:|
| Automatic HTTPS | yes | no | yes |
| Config reload | ` + "`caddy reload`" + ` | ` + "`nginx -s reload`" + ` | dynamic |
| Memory (idle) | ~40 MB | ~10 MB | ~60 MB |
| Learning curve | low | medium | medium |

> **Note:** if you are behind Cloudflare, set the SSL mode to *Full (strict)*,
> otherwise you'll get redirect loops (ERR_TOO_MANY_REDIRECTS).

### Running the API as a service

Create ` + "`/etc/systemd/system/api.service`" + `:

` + "```ini" + `
[Unit]
Description=My API
After=network.target

[Service]
ExecStart=/usr/local/bin/api --addr 127.0.0.1:8080
Restart=on-failure
User=api

[Install]
WantedBy=multi-user.target
` + "```" + `

Then:

` + "```bash" + `
sudo systemctl daemon-reload
sudo systemctl enable --now api
curl -fsS https://example.com/api/healthz && echo OK
` + "```" + `

Common pitfalls:

- [ ] Firewall: open ports **80** and **443** (` + "`ufw allow 80,443/tcp`" + `).
- [x] DNS propagated (check with ` + "`dig +short example.com`" + `).
- [ ] The API binds to ` + "`127.0.0.1`" + `, not ` + "`0.0.0.0`" + ` — otherwise it's reachable
  directly, bypassing the proxy & its headers.

If something fails, run ` + "`caddy validate --config /etc/caddy/Caddyfile`" + ` first; it
catches most typos. Costs: a $5/month VPS is plenty for < 1000 req/s.
Docs: <https://caddyserver.com/docs/> — and ~~nginx~~ is still fine if you
already know it.

### Rate limiting, briefly

Caddy has no built-in rate limiter; the usual choice is the
[caddy-ratelimit](https://github.com/mholt/caddy-ratelimit) plugin, built with ` + "`xcaddy`" + `:

` + "```sh" + `
xcaddy build --with github.com/mholt/caddy-ratelimit
sudo mv caddy /usr/bin/caddy && sudo systemctl restart caddy
` + "```" + `

Then, inside the site block:

` + "```caddy" + `
rate_limit {
	zone api {
		key    {remote_host}
		events 100
		window 1m
	}
}
` + "```" + `

1. **Zones** are independent buckets; key them by IP, header or path.
2. **Events/window** is a sliding window — 100 requests per minute here.
3. Excess requests get ` + "`429 Too Many Requests`" + ` with a ` + "`Retry-After`" + ` header.

> Behind a CDN, ` + "`{remote_host}`" + ` is the CDN's address; use
> ` + "`{http.request.header.CF-Connecting-IP}`" + ` (and trust only the CDN's ranges).

### Troubleshooting

- **502 Bad Gateway**: the API isn't listening — check ` + "`ss -ltnp | grep 8080`" + `.
- **Certificate errors**: port 80 must be reachable for the ACME HTTP challenge;
  see ` + "`journalctl -u caddy | grep -i acme`" + `.
- **Slow responses**: enable ` + "`encode`" + ` (done above) and look at the
  upstream latency in the access log (` + "`duration`" + ` field, in seconds).
- _Still stuck?_ Run ` + "`caddy run --config /etc/caddy/Caddyfile --adapter caddyfile`" + `
  in the foreground to see errors as they happen.

---

Want me to add **rate limiting** or _basic auth_ to the config next?
`)
}

// GrowthCuts are the lengths a streamed reply is rendered at: every 64
// bytes of growth (at a rune start) and the whole text.
func GrowthCuts(md string) []int {
	var cuts []int
	for i := 64; i < len(md); i += 64 {
		for !utf8.RuneStart(md[i]) {
			i++
		}
		cuts = append(cuts, i)
	}
	return append(cuts, len(md))
}

// BenchRender measures render on the whole SampleReply.
func BenchRender(b *testing.B, render func(string) string) {
	md := SampleReply()
	b.SetBytes(int64(len(md)))
	b.ReportAllocs()
	for b.Loop() {
		render(md)
	}
}

// BenchRenderStream renders SampleReply as it grows, the way a streamed
// reply is re-rendered on each edit: one op is one whole reply, rendered
// at every GrowthCuts length. It reports µs/edit.
func BenchRenderStream(b *testing.B, render func(string) string) {
	md := SampleReply()
	cuts := GrowthCuts(md)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cuts {
			render(md[:c])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cuts))/1e3, "µs/edit")
}
