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
