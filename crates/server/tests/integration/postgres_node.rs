//! Done-when 2: the same binary on PostgreSQL, as two nodes sharing one database.

use crate::support::{Browser, PASSWORD, Served, setup_form, temp_dir, tessera, token_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_postgresql() {
    let cluster = tessera_testpg::shared_cluster().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let db = cluster.create_database().await.unwrap();
    let dir = temp_dir();
    let node = || {
        let mut cmd = tessera(dir.path());
        cmd.env("TESSERA_DATABASE_URL", &db).env(
            "TESSERA_SECRET_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        );
        cmd
    };
    let a = Served::start(node(), tessera_testkit::free_port());
    let link = a.setup_link.clone().expect("node A printed a setup link");
    let mut on_a = Browser::new(&a.base);
    let done = on_a
        .post("/setup", &setup_form(&token_of(&link), "admin", PASSWORD))
        .await;
    assert_eq!(done.status, 303, "{}", done.body);

    // Node B starts on the same database: an administrator exists, so no link.
    let b = Served::start(node(), tessera_testkit::free_port());
    assert!(b.setup_link.is_none(), "node B printed a setup link");
    let ready = reqwest::get(format!("{}/readyz", b.base)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    // A session made on A is honoured on B: sessions live in the database.
    assert_eq!(
        on_a.sign_in("admin", PASSWORD).await.location.as_deref(),
        Some("/admin")
    );
    let mut on_b = on_a.moved_to(&b.base);
    let home = on_b.get("/admin").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Administration"));
    let outbox = on_b.get("/admin/outbox").await;
    assert!(outbox.body.contains("Welcome to Tessera"));
    let metrics = reqwest::get(format!("{}/metrics", b.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tessera_http_requests_total"), "{metrics}");
}

/// Done-when 4 of the OIDC issue: a token from node A introspects on node B, and a key
/// rotation is served by B's JWKS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_key_rotation_cross_nodes() {
    use crate::support::run;
    use serde_json::Value;
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let cluster = tessera_testpg::shared_cluster().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let db = cluster.create_database().await.unwrap();
    let dir = temp_dir();
    let (port_a, port_b) = (tessera_testkit::free_port(), tessera_testkit::free_port());
    // One deployment, one issuer: both nodes sit behind the same public name.
    let issuer = format!("http://localhost:{port_a}");
    let cmd = || {
        let mut c = tessera(dir.path());
        c.env("TESSERA_DATABASE_URL", &db)
            .env("TESSERA_SECRET_KEY", KEY)
            .env("TESSERA_ISSUER", &issuer);
        c
    };
    let a = Served::start(cmd(), port_a);
    let b = Served::start(cmd(), port_b);
    let admin = |args: &[&str]| {
        let mut c = cmd();
        c.arg("admin").args(args);
        let out = run(c, None);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    admin(&["tenant", "create", "--slug", "ops", "--name", "Ops"]);
    let app = admin(&[
        "app",
        "create",
        "--tenant",
        "ops",
        "--name",
        "job",
        "--grant",
        "client_credentials",
        "--scope",
        "metrics.read",
        "--json",
    ]);
    let (id, secret) = (
        app["client_id"].as_str().unwrap().to_owned(),
        app["client_secret"].as_str().unwrap().to_owned(),
    );
    let http = reqwest::Client::new();
    let token = |base: String| {
        let (http, id, secret) = (http.clone(), id.clone(), secret.clone());
        async move {
            let r: Value = http
                .post(format!("{base}/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["access_token"].as_str().unwrap().to_owned()
        }
    };
    let introspect = |base: String, t: String| {
        let (http, id, secret) = (http.clone(), id.clone(), secret.clone());
        async move {
            let r: Value = http
                .post(format!("{base}/introspect"))
                .basic_auth(id, Some(secret))
                .form(&[("token", t)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["active"].as_bool().unwrap()
        }
    };
    let from_a = token(a.base.clone()).await;
    assert!(
        introspect(b.base.clone(), from_a.clone()).await,
        "node B accepts node A's token"
    );

    let rotated = admin(&["keys", "rotate", "--json"]);
    let new_kids: Vec<String> = rotated["new_kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    // B reloads its key set within seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let jwks: Value = http
            .get(format!("{}/jwks.json", b.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        if new_kids.iter().all(|k| kids.contains(&k.as_str())) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node B never served the new keys: {kids:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // The old token still verifies on B; a token A signs after the rotation does too.
    assert!(introspect(b.base.clone(), from_a).await);
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let after = token(a.base.clone()).await;
    let header = after.split('.').next().unwrap();
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert!(
        new_kids.iter().any(|k| header["kid"] == k.as_str()),
        "A signs with the new key: {header}"
    );
    assert!(introspect(b.base.clone(), after).await);
}
