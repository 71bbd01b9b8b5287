//! A minimal HTTP/1.1 keep-alive client: one TCP connection, one request at a time, the
//! whole body read. Hand-driven (hyper's low-level `conn` API) so the benchmark knows
//! exactly how many connections are open and sees every failure.

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// One kept-alive connection to the server.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, or an error naming the status and the start of the body.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            anyhow!(
                "HTTP {}: body is not JSON ({e}): {}",
                self.status,
                self.snippet()
            )
        })
    }

    pub fn location(&self) -> Result<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("HTTP {} without a Location header", self.status))
    }

    /// The start of the body, for error messages.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(200).collect()
    }

    /// Fails unless the status is `want`.
    pub fn expect(self, want: StatusCode) -> Result<Self> {
        if self.status != want {
            bail!("HTTP {} (wanted {want}): {}", self.status, self.snippet());
        }
        Ok(self)
    }
}

/// What to send: method, path (with query), extra headers, body.
pub struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a str) -> Self {
        Self {
            method: Method::GET,
            path,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A POST of an `application/x-www-form-urlencoded` body.
    pub fn form(path: &'a str, fields: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Self {
            method: Method::POST,
            path,
            headers: vec![(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )],
            body: Bytes::from(body),
        }
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Result<Self> {
        self.headers.push((
            name,
            HeaderValue::from_str(value).context("header value is not valid")?,
        ));
        Ok(self)
    }
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        // The connection task ends when the sender is dropped or the server closes.
        tokio::spawn(async move {
            let _closed = connection.await;
        });
        Ok(Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            sender,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one request and reads the whole answer. A connection the server closed is an
    /// error (the benchmark never expects one).
    pub async fn send(&mut self, call: Call<'_>) -> Result<Reply> {
        let mut req = Request::builder()
            .method(call.method)
            .uri(call.path)
            .body(Full::new(call.body))
            .context("building a request")?;
        let h = req.headers_mut();
        h.insert(header::HOST, self.host.clone());
        for (k, v) in call.headers {
            h.append(k, v);
        }
        self.sender
            .ready()
            .await
            .context("the connection is closed")?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("sending the request")?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .context("reading the response body")?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply> {
        self.send(Call::get(path)).await
    }
}
