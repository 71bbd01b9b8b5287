//! The enrolment URI Tessera shows as a QR code and as text:
//! `tessera-push://enroll?server=<urlencoded base URL>&token=<token>`.

use url::Url;

/// What an enrolment URI carries: where to register, and the one-time token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    /// The server's base URL, without a trailing slash.
    pub server: String,
    pub token: String,
}

/// Parses and checks an enrolment URI. Plain `http` is accepted only for a server on
/// this machine (loopback): elsewhere the token and the signed answers need TLS.
pub fn parse(uri: &str) -> Result<Enrolment, String> {
    let uri = uri.trim();
    let parsed = Url::parse(uri).map_err(|e| format!("not an enrolment link ({e}): {uri}"))?;
    if parsed.scheme() != "tessera-push" || parsed.host_str() != Some("enroll") {
        return Err(format!(
            "not an enrolment link (expected tessera-push://enroll?server=…&token=…): {uri}"
        ));
    }
    let mut server = None;
    let mut token = None;
    for (key, value) in parsed.query_pairs() {
        let slot = match key.as_ref() {
            "server" => &mut server,
            "token" => &mut token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("the enrolment link has two `{key}` parameters"));
        }
        *slot = Some(value.into_owned());
    }
    let server = server.ok_or("the enrolment link has no `server` parameter")?;
    let token = token.ok_or("the enrolment link has no `token` parameter")?;
    if token.is_empty() {
        return Err("the enrolment link has an empty `token`".into());
    }
    Ok(Enrolment {
        server: check_server(&server)?,
        token,
    })
}

/// A base URL the authenticator may talk to, normalised without a trailing slash.
pub fn check_server(server: &str) -> Result<String, String> {
    let url = Url::parse(server).map_err(|e| format!("invalid server URL {server:?}: {e}"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "invalid server URL {server:?}: it must be a plain base URL"
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "refusing server {server}: plain http is allowed only for localhost; use https"
            ));
        }
        other => {
            return Err(format!(
                "invalid server URL {server:?}: scheme {other} (expected https)"
            ));
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_a_link() {
        let e = parse("tessera-push://enroll?server=https%3A%2F%2Fid.example.com%2F&token=abc-_1")
            .unwrap();
        assert_eq!(e.server, "https://id.example.com");
        assert_eq!(e.token, "abc-_1");
        // A base URL with a path keeps it; parameters may come in any order.
        let e = parse(" tessera-push://enroll?token=t&server=https%3A%2F%2Fh.example%2Fidp%2F\n")
            .unwrap();
        assert_eq!(e.server, "https://h.example/idp");
        assert_eq!(e.token, "t");
        let e =
            parse("tessera-push://enroll?server=http%3A%2F%2F127.0.0.1%3A8080&token=t").unwrap();
        assert_eq!(e.server, "http://127.0.0.1:8080");
        let e = parse("tessera-push://enroll?server=http://localhost:9&token=t").unwrap();
        assert_eq!(e.server, "http://localhost:9");
    }

    #[test]
    fn refuses_bad_links() {
        for (uri, needle) in [
            ("https://id.example.com/?token=t", "not an enrolment link"),
            (
                "tessera-push://other?server=https://a&token=t",
                "not an enrolment link",
            ),
            ("not a uri", "not an enrolment link"),
            ("tessera-push://enroll?token=t", "no `server`"),
            ("tessera-push://enroll?server=https://a", "no `token`"),
            (
                "tessera-push://enroll?server=https://a&token=",
                "empty `token`",
            ),
            (
                "tessera-push://enroll?server=https://a&token=t&token=u",
                "two `token`",
            ),
            ("tessera-push://enroll?server=ftp://a&token=t", "scheme ftp"),
            (
                "tessera-push://enroll?server=http://id.example.com&token=t",
                "plain http",
            ),
            (
                "tessera-push://enroll?server=https://a/?x=1&token=t",
                "plain base URL",
            ),
            (
                "tessera-push://enroll?server=nope&token=t",
                "invalid server URL",
            ),
        ] {
            let err = parse(uri).unwrap_err();
            assert!(err.contains(needle), "{uri}: {err}");
        }
    }
}
