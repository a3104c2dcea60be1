//! Access control in front of every route: the agent runs commands and
//! writes files as its user, and anything that can open a loopback socket
//! can reach it, web pages in the user's browser included. Three checks, in
//! this order, each answering with the JSON envelope:
//!
//! 1. `Host` (403): only `localhost`, a loopback IP, the listen host or a
//!    configured name. A page that rebinds its own DNS name to 127.0.0.1
//!    still sends its own name as `Host`, so DNS rebinding stops here.
//! 2. `Origin` (403): a browser adds `Origin` to cross-origin requests
//!    (and to every WebSocket handshake); no legitimate client of the agent
//!    is a web page, so any `Origin` not configured is refused. This also
//!    stops the "simple" cross-origin POSTs no CORS preflight guards.
//! 3. `Authorization: Bearer <token>` (401) when a token is configured,
//!    compared in constant time.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::error::ApiError;
use crate::AgentConfig;

/// What the guard lets through, from the agent's configuration.
#[derive(Clone, Debug)]
pub struct Access {
    token: Option<Vec<u8>>,
    /// Normalized host names accepted besides `localhost` and loopback IPs.
    hosts: Vec<String>,
    /// Normalized origins accepted.
    origins: Vec<String>,
}

impl Access {
    pub fn from_config(config: &AgentConfig) -> Self {
        let hosts = config
            .listen_host
            .iter()
            .chain(&config.allowed_hosts)
            .map(|h| normalize_host(host_name(h).unwrap_or(h)))
            .filter(|h| !h.is_empty())
            .collect();
        let origins = config
            .allowed_origins
            .iter()
            .map(|o| normalize_origin(o))
            .collect();
        Access {
            token: config.token.as_ref().map(|t| t.as_bytes().to_vec()),
            hosts,
            origins,
        }
    }

    /// Checks a request's headers: `Host`, then `Origin`, then the token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        self.check_host(headers)?;
        self.check_origin(headers)?;
        self.check_token(headers)
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(value) = headers.get(header::HOST) else {
            return Err(Refusal::Host(
                ApiError::new(StatusCode::FORBIDDEN, "Host not allowed.")
                    .with_detail("the request has no Host header"),
            ));
        };
        let raw = String::from_utf8_lossy(value.as_bytes());
        let allowed = value
            .to_str()
            .ok()
            .and_then(host_name)
            .is_some_and(|name| self.host_allowed(&normalize_host(name)));
        if allowed {
            return Ok(());
        }
        let name = host_name(&raw).unwrap_or(&raw).to_string();
        Err(Refusal::Host(
            ApiError::new(StatusCode::FORBIDDEN, "Host not allowed.").with_detail(format!(
                "Host {raw:?} is not localhost, a loopback address or the listen address; \
                 start the agent with --allowed-host {name} to allow it"
            )),
        ))
    }

    fn host_allowed(&self, name: &str) -> bool {
        if name == "localhost" {
            return true;
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            let loopback = match ip {
                IpAddr::V4(v4) => v4.is_loopback(),
                IpAddr::V6(v6) => {
                    v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                }
            };
            if loopback {
                return true;
            }
        }
        self.hosts.iter().any(|h| h == name)
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(value) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let allowed = value
            .to_str()
            .is_ok_and(|o| self.origins.contains(&normalize_origin(o)));
        if allowed {
            return Ok(());
        }
        let raw = String::from_utf8_lossy(value.as_bytes());
        Err(Refusal::Origin(
            ApiError::new(StatusCode::FORBIDDEN, "Origin not allowed.").with_detail(format!(
                "requests from web pages are refused: Origin {raw:?} is not allowed; \
                 start the agent with --allowed-origin {raw} to allow it"
            )),
        ))
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| bearer(v.as_bytes()));
        match given {
            Some(given) if constant_time_eq(given, expected) => Ok(()),
            Some(_) => Err(Refusal::Token(
                ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized.")
                    .with_detail("the bearer token is not the agent's token"),
            )),
            None => Err(Refusal::Token(
                ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized.")
                    .with_detail("an Authorization: Bearer <token> header is required"),
            )),
        }
    }
}

/// Why a request was refused; each carries its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Host(ApiError),
    Origin(ApiError),
    Token(ApiError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Host(e) | Refusal::Origin(e) => e.into_response(),
            Refusal::Token(e) => {
                let mut resp = e.into_response();
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                resp
            }
        }
    }
}

/// Puts the guard in front of every route of `router`, its fallbacks
/// included (so an unknown path tells nothing to a refused caller).
pub fn protect<S: Clone + Send + Sync + 'static>(router: Router<S>, access: Access) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(access),
        guard,
    ))
}

async fn guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    match access.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            tracing::debug!(?refusal, path = req.uri().path(), "request refused");
            refusal.into_response()
        }
    }
}

/// The host of a `Host` value without its port; IPv6 brackets removed.
/// `None` for a malformed value (e.g. a bare IPv6 address, a bad port).
fn host_name(value: &str) -> Option<&str> {
    let value = value.trim();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    if host.is_empty() || (host.contains(':') && !value.starts_with('[')) {
        return None;
    }
    if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(host)
}

/// Lower case, one trailing dot dropped (`localhost.` is `localhost`),
/// IPv6 brackets dropped.
fn normalize_host(name: &str) -> String {
    let name = name.trim();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Lower case without a trailing slash: browsers send `scheme://host[:port]`.
fn normalize_origin(origin: &str) -> String {
    let origin = origin.trim();
    origin
        .strip_suffix('/')
        .unwrap_or(origin)
        .to_ascii_lowercase()
}

/// The token of an `Authorization: Bearer <token>` value (scheme in any case).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    let token = &rest[start..];
    let end = token.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
    Some(&token[..end])
}

/// Equality whose time depends only on the longer length, never on where
/// the inputs first differ (no early exit on a length mismatch either).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(token: Option<&str>, hosts: &[&str], origins: &[&str]) -> Access {
        Access::from_config(&AgentConfig {
            token: token.map(str::to_string),
            listen_host: Some("10.1.2.3".into()),
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            ..AgentConfig::default()
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    /// The status of `pairs` through `a`: 0 for let through.
    fn check(a: &Access, pairs: &[(&'static str, &str)]) -> u16 {
        match a.check(&headers(pairs)) {
            Ok(()) => 0,
            Err(Refusal::Host(e) | Refusal::Origin(e) | Refusal::Token(e)) => e.status.as_u16(),
        }
    }

    #[test]
    fn host_names_lose_their_port_and_brackets_and_malformed_ones_are_none() {
        for (value, name) in [
            ("localhost", Some("localhost")),
            ("localhost:4242", Some("localhost")),
            ("127.0.0.1:1", Some("127.0.0.1")),
            ("[::1]:4242", Some("::1")),
            ("[::1]", Some("::1")),
            ("::1", None),
            ("[::1", None),
            ("[::1]x", None),
            ("host:abc", None),
            (":80", None),
            ("", None),
        ] {
            assert_eq!(host_name(value), name, "{value}");
        }
    }

    #[test]
    fn loopback_localhost_listen_host_and_allowed_hosts_pass_the_host_check() {
        let a = access(None, &["Dev.Box", "[fd00::1]:99"], &[]);
        for host in [
            "localhost",
            "LOCALHOST:1",
            "localhost.",
            "127.0.0.1",
            "127.8.9.10:80",
            "[::1]:4242",
            "[::ffff:127.0.0.1]",
            "10.1.2.3:4242",
            "dev.box",
            "[fd00::1]",
        ] {
            assert_eq!(check(&a, &[("host", host)]), 0, "{host}");
        }
        for host in [
            "evil.attacker.com",
            "localhost.evil.com",
            "128.0.0.1",
            "[::2]",
            "::1",
            "",
        ] {
            assert_eq!(check(&a, &[("host", host)]), 403, "{host}");
        }
        assert_eq!(check(&a, &[]), 403, "no Host header");
    }

    #[test]
    fn any_origin_but_a_configured_one_is_refused() {
        let a = access(None, &[], &["https://IDE.example/"]);
        let host = ("host", "localhost");
        assert_eq!(check(&a, &[host]), 0);
        assert_eq!(check(&a, &[host, ("origin", "https://ide.example")]), 0);
        for origin in ["http://evil.example", "null", "https://ide.example.evil"] {
            assert_eq!(check(&a, &[host, ("origin", origin)]), 403, "{origin}");
        }
    }

    #[test]
    fn the_token_must_match_exactly_and_the_checks_run_host_origin_token() {
        let a = access(Some("s3cret"), &[], &[]);
        let host = ("host", "localhost");
        assert_eq!(check(&a, &[host, ("authorization", "Bearer s3cret")]), 0);
        assert_eq!(check(&a, &[host, ("authorization", "bearer  s3cret ")]), 0);
        for value in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Bearer S3CRET",
            "Basic s3cret",
            "Bearer",
            "s3cret",
        ] {
            assert_eq!(check(&a, &[host, ("authorization", value)]), 401, "{value}");
        }
        assert_eq!(check(&a, &[host]), 401);
        // A foreign Host or Origin is refused before the token is looked at.
        assert_eq!(check(&a, &[("host", "evil.com")]), 403);
        assert_eq!(check(&a, &[host, ("origin", "http://evil.com")]), 403);
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"", b"\0"));
    }
}
