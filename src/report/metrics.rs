//! Prometheus metrics of a `live` run (`--metrics ADDR:PORT`), in the
//! OpenMetrics text format (`prometheus-client`), served on `/metrics` by a
//! small blocking HTTP server (`tiny_http`, one thread, no async runtime).
//!
//! Owns: [`Metrics`] (the registry and its handles, fed by the
//! [`Reporter`](super::Reporter) per judged flow and by the live loop per
//! second) and [`MetricsServer`].
//!
//! Metrics (names as scraped):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tlsaudit_flows_total` | counter | `verdict` (pass/fail/unknown) |
//! | `tlsaudit_checks_total` | counter | `check`, `verdict` |
//! | `tlsaudit_findings_total` | counter | `kind` (e.g. `certificate-expires-soon`, `peer-changed`) |
//! | `tlsaudit_packets_total`, `tlsaudit_bytes_total` | counter | — |
//! | `tlsaudit_kernel_drops_total` | counter | — |
//! | `tlsaudit_open_flows` | gauge | — |
//! | `tlsaudit_certificate_expiry_days` | gauge | `client`, `server`, `role`, `cn` |
//! | `tlsaudit_certificate_not_after_timestamp_seconds` | gauge | same |
//!
//! The verdict of a flow and of each check are separate families (instead
//! of one `flows_total` with an optional `check` label) so that
//! `sum(tlsaudit_flows_total)` counts flows, not flows times checks.
//!
//! Invariants: the per-peer gauges hold at most [`MAX_PEERS`] label sets
//! (oldest removed first), so a scan cannot grow the exposition; counters
//! only go up (capture statistics are fed as totals, the difference is
//! added).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::checks::peers::MAX_PEERS;
use crate::checks::{JudgedFlow, Verdict, CHECK_NAMES};
use crate::facts::Role;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: &'static str,
    verdict: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    client: String,
    server: String,
    role: &'static str,
    cn: String,
}

/// Capture totals last fed, to add only the difference to the counters.
#[derive(Debug, Default)]
struct CaptureTotals {
    packets: u64,
    bytes: u64,
    drops: u64,
    /// Per-peer gauge label sets, oldest first.
    cert_labels: VecDeque<CertLabels>,
}

/// The registry and the handles the run updates. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    flows: Family<VerdictLabels, Counter>,
    checks: Family<CheckLabels, Counter>,
    findings: Family<KindLabels, Counter>,
    packets: Counter,
    bytes: Counter,
    drops: Counter,
    open_flows: Gauge,
    expiry_days: Family<CertLabels, Gauge<f64, AtomicU64>>,
    not_after: Family<CertLabels, Gauge<i64, std::sync::atomic::AtomicI64>>,
    totals: Mutex<CaptureTotals>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let flows = Family::<VerdictLabels, Counter>::default();
        let checks = Family::<CheckLabels, Counter>::default();
        let findings = Family::<KindLabels, Counter>::default();
        let packets = Counter::default();
        let bytes = Counter::default();
        let drops = Counter::default();
        let open_flows = Gauge::default();
        let expiry_days = Family::<CertLabels, Gauge<f64, AtomicU64>>::default();
        let not_after = Family::<CertLabels, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
        registry.register("tlsaudit_flows", "Judged flows by verdict", flows.clone());
        registry.register(
            "tlsaudit_checks",
            "Check results by check and verdict",
            checks.clone(),
        );
        registry.register(
            "tlsaudit_findings",
            "Findings by kind (certificate-expires-soon, peer-changed, ...)",
            findings.clone(),
        );
        registry.register(
            "tlsaudit_packets",
            "Packets read from the capture",
            packets.clone(),
        );
        registry.register(
            "tlsaudit_bytes",
            "Bytes read from the capture",
            bytes.clone(),
        );
        registry.register(
            "tlsaudit_kernel_drops",
            "Packets the kernel dropped before tlsaudit read them",
            drops.clone(),
        );
        registry.register(
            "tlsaudit_open_flows",
            "Flows open (not yet judged)",
            open_flows.clone(),
        );
        registry.register(
            "tlsaudit_certificate_expiry_days",
            "Days from the peer's last flow to the earliest not-after of the certificates it presented (leaf and chain)",
            expiry_days.clone(),
        );
        registry.register(
            "tlsaudit_certificate_not_after_timestamp_seconds",
            "Earliest not-after (Unix time) of the certificates the peer presented (leaf and chain)",
            not_after.clone(),
        );
        // Every verdict exists from the first scrape, so `increase()` sees
        // the first failing flow (a series born at 1 has no increase).
        for verdict in ["pass", "fail", "unknown"] {
            let _ = flows.get_or_create(&VerdictLabels { verdict });
        }
        Metrics {
            registry,
            flows,
            checks,
            findings,
            packets,
            bytes,
            drops,
            open_flows,
            expiry_days,
            not_after,
            totals: Mutex::new(CaptureTotals::default()),
        }
    }

    /// Count a judged flow (with its findings, peer changes included).
    pub fn flow(&self, j: &JudgedFlow) {
        let verdict = match j.verdict {
            Verdict::Skipped => Verdict::Pass,
            v => v,
        };
        self.flows
            .get_or_create(&VerdictLabels {
                verdict: verdict.name(),
            })
            .inc();
        for (i, (_, c)) in j.checks.iter().into_iter().enumerate() {
            self.checks
                .get_or_create(&CheckLabels {
                    check: CHECK_NAMES[i],
                    verdict: c.verdict.name(),
                })
                .inc();
        }
        for x in &j.findings {
            let kind = serde_json::to_value(x.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.findings.get_or_create(&KindLabels { kind }).inc();
        }
        let at = j.facts.first_seen.secs;
        for (role, seen) in [
            (Role::Server, j.server_certificate()),
            (Role::Client, j.client_certificate()),
        ] {
            let Some(seen) = seen else { continue };
            let Some(earliest) = seen.chain.certs.iter().filter_map(|c| c.not_after).min() else {
                continue;
            };
            let labels = CertLabels {
                client: j.facts.client.ip().to_string(),
                server: j.facts.server.ip().to_string(),
                role: role.name(),
                cn: seen
                    .chain
                    .certs
                    .first()
                    .map(|c| c.subject_cn.join(","))
                    .unwrap_or_default(),
            };
            self.remember(&labels);
            self.expiry_days
                .get_or_create(&labels)
                .set(earliest.saturating_sub(at) as f64 / 86_400.0);
            self.not_after.get_or_create(&labels).set(earliest);
        }
    }

    /// Keep the label set among the newest [`MAX_PEERS`]; the oldest
    /// beyond it is removed from both gauges.
    fn remember(&self, labels: &CertLabels) {
        let Ok(mut t) = self.totals.lock() else {
            return;
        };
        if t.cert_labels.contains(labels) {
            return;
        }
        if t.cert_labels.len() >= MAX_PEERS {
            if let Some(old) = t.cert_labels.pop_front() {
                self.expiry_days.remove(&old);
                self.not_after.remove(&old);
            }
        }
        t.cert_labels.push_back(labels.clone());
    }

    /// Capture totals so far (packets, bytes, kernel drops) and the open flows.
    pub fn capture(&self, packets: u64, bytes: u64, drops: u64, open_flows: usize) {
        if let Ok(mut guard) = self.totals.lock() {
            let t = &mut *guard;
            for (now, last, counter) in [
                (packets, &mut t.packets, &self.packets),
                (bytes, &mut t.bytes, &self.bytes),
                (drops, &mut t.drops, &self.drops),
            ] {
                if now > *last {
                    counter.inc_by(now - *last);
                    *last = now;
                }
            }
        }
        self.open_flows
            .set(i64::try_from(open_flows).unwrap_or(i64::MAX));
    }

    /// The exposition, OpenMetrics text (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, thiserror::Error)]
#[error("--metrics {addr}: cannot listen: {reason}")]
pub struct MetricsServerError {
    pub addr: String,
    pub reason: String,
}

/// The `/metrics` endpoint, served from its own thread until dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl MetricsServer {
    /// Listen on `addr` (port 0: any free port, see [`Self::addr`]).
    pub fn start(addr: &str, metrics: Arc<Metrics>) -> Result<Self, MetricsServerError> {
        let err = |reason: String| MetricsServerError {
            addr: addr.to_string(),
            reason,
        };
        let server = tiny_http::Server::http(addr).map_err(|e| err(e.to_string()))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| err("not an IP address".into()))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for req in serving.incoming_requests() {
                    let path = req.url().split('?').next().unwrap_or("");
                    let resp = if path == "/metrics" {
                        let body = metrics.encode();
                        tiny_http::Response::from_string(body).with_header(header(CONTENT_TYPE))
                    } else {
                        tiny_http::Response::from_string("tlsaudit: metrics are on /metrics\n")
                            .with_status_code(404)
                            .with_header(header("text/plain; charset=utf-8"))
                    };
                    // A client that went away is its own problem.
                    let _ = req.respond(resp);
                }
            })
            .map_err(|e| err(e.to_string()))?;
        Ok(MetricsServer {
            server,
            thread: Some(thread),
            addr: bound,
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn header(content_type: &str) -> tiny_http::Header {
    // Both parts are ASCII constants: the conversion cannot fail.
    tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
        .unwrap_or_else(|()| unreachable!("ASCII header"))
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::{cert, FlowBuilder, CAPTURE_TIME};
    use crate::checks::judge;
    use crate::profile::Profile;
    use std::io::{Read, Write};

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn flows_checks_and_expiry_days_are_exposed() {
        let m = Metrics::new();
        let p = Profile::builtin();
        m.flow(&judge(FlowBuilder::new().federation_ok().build(), &p));
        let mut soon = cert(&["ocs.example.com"]);
        soon.not_after = Some(CAPTURE_TIME + 10 * 86_400);
        let failing = FlowBuilder::new()
            .federation_ok()
            .negotiated(crate::tls::model::TlsVersion::TLS12, 0x002f)
            .client_chain(8, vec![soon])
            .build();
        m.flow(&judge(failing, &p));
        m.capture(100, 20_000, 3, 2);
        m.capture(90, 20_000, 3, 1); // never goes down
        let text = m.encode();
        assert_eq!(
            line(&text, "tlsaudit_flows_total{verdict=\"fail\"}"),
            Some("tlsaudit_flows_total{verdict=\"fail\"} 1"),
            "{text}"
        );
        assert!(text.contains("tlsaudit_flows_total{verdict=\"pass\"} 1"));
        assert!(text.contains("tlsaudit_checks_total{check=\"version\",verdict=\"fail\"} 1"));
        assert!(text.contains("tlsaudit_findings_total{kind=\"certificate-expires-soon\"} 1"));
        assert!(text.contains("tlsaudit_packets_total 100"));
        assert!(text.contains("tlsaudit_kernel_drops_total 3"));
        assert!(text.contains("tlsaudit_open_flows 1"));
        assert!(
            text.contains("tlsaudit_certificate_expiry_days{client=\"10.0.0.2\",server=\"10.0.0.1\",role=\"client\",cn=\"ocs.example.com\"} 10.0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn per_peer_gauges_are_capped() {
        let m = Metrics::new();
        let p = Profile::builtin();
        for i in 0..(MAX_PEERS as u32 + 5) {
            let client = crate::decode::Endpoint::new(
                std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i)),
                40000,
            );
            let server = crate::decode::Endpoint::new(
                std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
                5062,
            );
            m.flow(&judge(
                FlowBuilder::new()
                    .federation_ok()
                    .endpoints(client, server)
                    .build(),
                &p,
            ));
        }
        let text = m.encode();
        let n = text
            .lines()
            .filter(|l| l.starts_with("tlsaudit_certificate_expiry_days{"))
            .count();
        assert_eq!(n, MAX_PEERS);
        // The oldest (11.0.0.0) went first.
        assert!(!text.contains("client=\"11.0.0.0\""));
    }

    #[test]
    fn server_answers_metrics_and_404_elsewhere() {
        let m = Arc::new(Metrics::new());
        m.capture(7, 700, 0, 0);
        let server = MetricsServer::start("127.0.0.1:0", Arc::clone(&m)).expect("listen");
        let get = |path: &str| {
            let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
            write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("send");
            let mut r = String::new();
            s.read_to_string(&mut r).expect("read");
            r
        };
        let r = get("/metrics");
        assert!(
            r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"),
            "{r}"
        );
        assert!(r.contains("application/openmetrics-text"), "{r}");
        assert!(r.contains("tlsaudit_packets_total 7"), "{r}");
        let r = get("/");
        assert!(r.contains(" 404 "), "{r}");
        drop(server);
    }
}
