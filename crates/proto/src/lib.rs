//! The authoritative layouts of what Tessera sends and receives on the wire (OAuth 2,
//! OpenID Connect). Clients and server share them; no server dependencies here.

pub mod oauth;
