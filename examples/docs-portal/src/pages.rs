//! The HTML pages: plain semantic markup (one `<main>`, one `<h1>`, captioned tables), no
//! scripts, styles from `/style.css` only.

use serde_json::Value;

/// The stylesheet, served at `/style.css` (nothing inline, so a strict CSP holds).
pub const STYLE: &str = "\
:root { color-scheme: light; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; background: #f6f7f9; color: #1b1f24; }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem; }
header { display: flex; align-items: center; justify-content: space-between; }
.brand { font-weight: 700; font-size: 1.25rem; color: #1b1f24; text-decoration: none; }
h1 { font-size: 1.75rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
.button, button { display: inline-block; font: inherit; font-weight: 600; cursor: pointer;
  padding: 0.6rem 1.2rem; border-radius: 0.4rem; border: 2px solid #0b4f9c;
  background: #0b4f9c; color: #fff; text-decoration: none; }
.button.secondary, button.secondary { background: #fff; color: #0b4f9c; }
.button:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid #f5a623;
  outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin: 1rem 0; }
.actions form { margin: 0; }
table { border-collapse: collapse; width: 100%; background: #fff; }
caption { text-align: left; font-weight: 600; padding: 0.5rem 0; }
th, td { border: 1px solid #c9ced6; padding: 0.4rem 0.6rem; text-align: left;
  vertical-align: top; }
th { width: 14rem; background: #eef1f5; }
td code { overflow-wrap: anywhere; }
.note { color: #4a5360; }
.error { border-left: 4px solid #b00020; padding: 0.5rem 1rem; background: #fff; }
dt { font-weight: 600; }
dd { margin: 0 0 0.75rem 0; }
a { color: #0b4f9c; }
";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page frame.
fn layout(base: &str, title: &str, body: &str) -> String {
    let title = escape(title);
    let base = escape(base);
    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>{title}</title>
<link rel=\"stylesheet\" href=\"{base}/style.css\">
</head>
<body>
<header><a class=\"brand\" href=\"{base}/\">Docs portal</a></header>
<main>
{body}
</main>
<footer><p class=\"note\">An example relying service for Tessera, built with the Rust <code>openidconnect</code> crate.</p></footer>
</body>
</html>
"
    )
}

/// The signed-out home page.
pub fn home_signed_out(base: &str) -> String {
    let b = escape(base);
    layout(
        base,
        "Docs portal",
        &format!(
            "<h1>Docs portal</h1>
<p>The agency's documentation, for signed-in officers.</p>
<div class=\"actions\">
<a class=\"button\" href=\"{b}/login\">Login with Tessera</a>
</div>"
        ),
    )
}

/// What the signed-in page shows.
pub struct SignedInView<'a> {
    pub display_name: &'a str,
    pub id_claims: &'a [(String, Value)],
    pub userinfo: &'a Result<Vec<(String, Value)>, String>,
}

/// The signed-in home page: who, the validated ID-token claims, the userinfo response.
pub fn home_signed_in(base: &str, v: &SignedInView<'_>) -> String {
    let b = escape(base);
    let name = escape(v.display_name);
    let userinfo = match v.userinfo {
        Ok(claims) => claims_table("Claims returned by the userinfo endpoint", claims),
        Err(e) => format!(
            "<p class=\"error\">The userinfo request failed: {}</p>",
            escape(e)
        ),
    };
    layout(
        base,
        "Docs portal",
        &format!(
            "<h1>Docs portal</h1>
<p>Signed in as <strong>{name}</strong>.</p>
<div class=\"actions\">
<form method=\"post\" action=\"{b}/logout\"><button type=\"submit\">Sign out</button></form>
<a class=\"button secondary\" href=\"{b}/login?prompt=select_account\">Use another account</a>
</div>
<h2 id=\"id-token\">ID token</h2>
<p class=\"note\">Signature (JWKS), issuer, audience, expiry and nonce checked by the <code>openidconnect</code> crate.</p>
{id}
<h2 id=\"userinfo\">Userinfo</h2>
{userinfo}",
            id = claims_table("Validated ID token claims", v.id_claims),
        ),
    )
}

/// The error page (sent with HTTP 400).
pub fn error(base: &str, code: &str, description: &str) -> String {
    let b = escape(base);
    let description = if description.is_empty() {
        "No description was given.".to_owned()
    } else {
        escape(description)
    };
    layout(
        base,
        "Sign-in failed – Docs portal",
        &format!(
            "<h1>Sign-in failed</h1>
<div class=\"error\">
<dl>
<dt>Error code</dt>
<dd><code>{code}</code></dd>
<dt>Description</dt>
<dd>{description}</dd>
</dl>
</div>
<div class=\"actions\">
<a class=\"button\" href=\"{b}/login\">Try again</a>
<a class=\"button secondary\" href=\"{b}/\">Back to the Docs portal</a>
</div>",
            code = escape(code),
        ),
    )
}

/// The page for an unknown address (sent with HTTP 404).
pub fn not_found(base: &str) -> String {
    let b = escape(base);
    layout(
        base,
        "Not found – Docs portal",
        &format!(
            "<h1>Page not found</h1>
<p>There is nothing at this address. <a href=\"{b}/\">Back to the Docs portal</a>.</p>"
        ),
    )
}

fn claims_table(caption: &str, claims: &[(String, Value)]) -> String {
    let mut rows = String::new();
    for (name, value) in claims {
        rows.push_str(&format!(
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td></tr>\n",
            escape(name),
            render_value(name, value)
        ));
    }
    format!(
        "<table>\n<caption>{}</caption>\n<thead><tr><th scope=\"col\">Claim</th><th scope=\"col\">Value</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>",
        escape(caption)
    )
}

/// Claims that hold seconds since the epoch.
const TIMES: &[&str] = &["exp", "iat", "nbf", "auth_time", "updated_at"];

fn render_value(name: &str, value: &Value) -> String {
    match value {
        Value::String(s) => format!("<code>{}</code>", escape(s)),
        Value::Number(n) if TIMES.contains(&name) => match n.as_i64().and_then(utc) {
            Some(when) => format!("<code>{n}</code> ({})", escape(&when)),
            None => format!("<code>{n}</code>"),
        },
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| format!("<code>{}</code>", escape(s)))
            .collect::<Vec<_>>()
            .join(", "),
        other => format!("<code>{}</code>", escape(&other.to_string())),
    }
}

fn utc(secs: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Orders claims for reading: who first, then how they signed in, then the rest by name.
pub fn ordered(claims: serde_json::Map<String, Value>) -> Vec<(String, Value)> {
    const FIRST: &[&str] = &[
        "sub",
        "name",
        "preferred_username",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "amr",
        "acr",
        "auth_time",
    ];
    let mut out: Vec<(String, Value)> = claims.into_iter().collect();
    out.sort_by_key(|(k, _)| {
        (
            FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()),
            k.clone(),
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn orders_and_renders_claims() {
        let map = json!({"zeta": 1, "iss": "i", "sub": "s", "amr": ["pwd", "otp"], "auth_time": 0});
        let Value::Object(map) = map else {
            panic!("an object")
        };
        let claims = ordered(map);
        let keys: Vec<&str> = claims.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["sub", "amr", "auth_time", "iss", "zeta"]);
        let page = home_signed_in(
            "",
            &SignedInView {
                display_name: "<root>",
                id_claims: &claims,
                userinfo: &Err("boom".into()),
            },
        );
        assert!(page.contains("Signed in as <strong>&lt;root&gt;</strong>"));
        assert!(page.contains("<code>pwd</code>, <code>otp</code>"));
        assert!(page.contains("1970-01-01T00:00:00Z"));
        assert!(page.contains("The userinfo request failed: boom"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("style="));
    }

    #[test]
    fn error_page_shows_code_and_description() {
        let page = error("/p", "access_denied", "The user said <no>");
        assert!(page.contains("<code>access_denied</code>"));
        assert!(page.contains("The user said &lt;no&gt;"));
        assert!(page.contains("href=\"/p/login\""));
    }
}
